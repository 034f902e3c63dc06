// Splits a unified diff (git's format) into one piece per file, so the
// Changes view can show each file's hunks under its own heading.

/** Each file's hunks, keyed by its path after the change (before it, for a deletion). */
export function splitPatch(patch: string): Map<string, string> {
  const out = new Map<string, string>();
  const pieces = patch.split(/^(?=diff --git )/m);
  for (const piece of pieces) {
    if (!piece.startsWith("diff --git ")) continue;
    const lines = piece.replace(/\n$/, "").split("\n");
    const path = pathOf(lines);
    if (path === undefined) continue;
    const hunk = lines.findIndex((l) => l.startsWith("@@"));
    out.set(path, hunk < 0 ? "" : lines.slice(hunk).join("\n") + "\n");
  }
  return out;
}

/** The path a file's header names: `+++ b/…`, else `--- a/…` (deleted), else the `diff --git` line. */
function pathOf(header: string[]): string | undefined {
  const end = header.findIndex((l) => l.startsWith("@@"));
  const head = end < 0 ? header : header.slice(0, end);
  const plus = head.find((l) => l.startsWith("+++ "));
  if (plus && plus !== "+++ /dev/null") return unquote(plus.slice(4)).replace(/^b\//, "");
  const minus = head.find((l) => l.startsWith("--- "));
  if (minus && minus !== "--- /dev/null") return unquote(minus.slice(4)).replace(/^a\//, "");
  // No ---/+++ lines (a mode change, a pure rename, a binary file): the
  // second path of `diff --git a/X b/Y`.
  const m = /^diff --git (?:"?a\/.*?"?) ("?)b\/(.*)\1$/.exec(head[0] ?? "");
  return m ? unquote(m[1] + "b/" + m[2] + m[1]).replace(/^b\//, "") : undefined;
}

/** git quotes paths with unusual bytes C-style: "a/t\303\251st". */
function unquote(s: string): string {
  if (!s.startsWith('"') || !s.endsWith('"')) return s;
  const bytes: number[] = [];
  const body = s.slice(1, -1);
  const enc = new TextEncoder();
  const escapes: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, "\\": 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      bytes.push(...enc.encode(c));
      continue;
    }
    const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else {
      const next = body[i + 1] ?? "";
      bytes.push(escapes[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
