// What changed in the git work tree of the session's directory since its
// last commit: the files with their line counts, then each file's hunks.

import { useEffect, useMemo, useState } from "preact/hooks";

import type { AgentdClient, ChangedFile, DiffResponse } from "../../../../sdk-ts/src/index.js";
import { Diff } from "./parts.js";
import { splitPatch } from "./patch.js";
import { errorText } from "./ui.js";

export function Changes({ client, sessionId }: { client: AgentdClient; sessionId: string }) {
  const [diff, setDiff] = useState<DiffResponse | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    setError("");
    client
      .getSessionDiff(sessionId, {}, { signal: ac.signal })
      .then(setDiff, (err) => {
        if (!ac.signal.aborted) setError(errorText(err));
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [client, sessionId, generation]);

  const files = diff?.files ?? [];
  const hunks = useMemo(() => splitPatch(diff?.patch ?? ""), [diff]);
  const added = files.reduce((n, f) => n + (f.additions ?? 0), 0);
  const deleted = files.reduce((n, f) => n + (f.deletions ?? 0), 0);

  return (
    <div class="changes">
      <div class="files-bar">
        <span class="changes-summary">
          {diff?.repository ? (
            <>
              <code class="cwd" title={diff.root}>
                <bdi>{diff.root ?? diff.directory}</bdi>
              </code>
              {diff.base && <span class="muted small"> since {diff.base.slice(0, 8)}</span>}
            </>
          ) : (
            <span class="muted">Uncommitted changes</span>
          )}
        </span>
        {files.length > 0 && (
          <span class="counts small">
            {files.length} {files.length === 1 ? "file" : "files"} <Counts add={added} del={deleted} />
          </span>
        )}
        <button onClick={() => setGeneration((g) => g + 1)} disabled={loading}>
          {loading ? "Refreshing…" : "Refresh"}
        </button>
      </div>
      {error && <p class="err">{error}</p>}
      <div class="changes-body">
        {!diff ? (
          !error && <p class="muted">Loading…</p>
        ) : !diff.repository ? (
          <p class="muted state">
            Not a git repository: <code>{diff.directory}</code> is not inside a git work tree, so there are no changes to show.
          </p>
        ) : files.length === 0 ? (
          <p class="muted state">No changes since the last commit.</p>
        ) : (
          <>
            <ul class="change-list">
              {files.map((f) => (
                <li key={f.path} data-change={f.path}>
                  <a href={`#${anchorOf(sessionId, f)}`} onClick={(e) => jump(e, anchorOf(sessionId, f))}>
                    <span class={`pill st-${f.status}`}>{f.status}</span>
                    <span class="path">{f.oldPath ? `${f.oldPath} → ${f.path}` : f.path}</span>
                    <Counts add={f.additions} del={f.deletions} />
                  </a>
                </li>
              ))}
            </ul>
            {files.map((f) => (
              <section key={f.path} class="entry change" id={anchorOf(sessionId, f)} data-change-diff={f.path}>
                <div class="file-head">
                  <code>{f.path}</code>
                  <span class={`pill st-${f.status}`}>{f.status}</span>
                  <Counts add={f.additions} del={f.deletions} />
                </div>
                {f.binary ? (
                  <p class="muted small">Binary file.</p>
                ) : hunks.get(f.path) ? (
                  <Diff text={hunks.get(f.path)!} />
                ) : (
                  <p class="muted small">{diff.truncated ? "Not shown: the diff was cut at its size limit." : "No line changes."}</p>
                )}
              </section>
            ))}
            {diff.truncated && <p class="muted small state">The diff is too large and was cut; the counts above are complete up to the cut.</p>}
          </>
        )}
      </div>
    </div>
  );
}

function Counts({ add, del }: { add?: number; del?: number }) {
  return (
    <span class="line-counts">
      <span class="n-add">+{add ?? 0}</span> <span class="n-del">−{del ?? 0}</span>
    </span>
  );
}

/** The hash routes the page, so a file link scrolls by hand instead of navigating. */
function jump(e: Event, id: string) {
  e.preventDefault();
  document.getElementById(id)?.scrollIntoView({ block: "start", behavior: "smooth" });
}

function anchorOf(sessionId: string, f: ChangedFile): string {
  return `change-${sessionId}-${f.path}`.replace(/[^A-Za-z0-9_-]/g, "_");
}
