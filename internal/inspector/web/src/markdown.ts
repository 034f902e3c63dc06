// A small Markdown reader for assistant messages: the common blocks and
// inline marks agents write, parsed into a tree the view turns into
// elements. No HTML passes through (text stays text), and links are kept
// only for http(s) URLs. An unclosed code fence, as a message still
// streaming has, is a code block up to the end.

export type Inline =
  | { t: "text"; v: string }
  | { t: "code"; v: string }
  | { t: "strong"; c: Inline[] }
  | { t: "em"; c: Inline[] }
  | { t: "link"; href: string; c: Inline[] };

export type Block =
  | { t: "p"; c: Inline[] }
  | { t: "h"; level: number; c: Inline[] }
  | { t: "code"; lang: string; v: string }
  | { t: "ul" | "ol"; items: Inline[][] }
  | { t: "quote"; c: Inline[] }
  | { t: "hr" }
  | { t: "table"; head: Inline[][]; rows: Inline[][][] };

const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s*>\s?/;
const BULLET = /^\s*[-*+]\s+/;
const NUMBER = /^\s*\d+[.)]\s+/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  const collect = (match: (l: string) => boolean): string[] => {
    const out: string[] = [];
    while (i < lines.length && match(lines[i]!)) out.push(lines[i++]!);
    return out;
  };
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      i++;
      const body = collect((l) => {
        const close = FENCE.exec(l);
        return !(close && close[1] === fence[1] && !close[2]);
      });
      i++; // the closing fence, when there is one
      blocks.push({ t: "code", lang: fence[2] ?? "", v: body.join("\n") });
    } else if (line.trim() === "") {
      i++;
    } else if (HEADING.test(line)) {
      const m = HEADING.exec(line)!;
      blocks.push({ t: "h", level: m[1]!.length, c: parseInline(m[2]!) });
      i++;
    } else if (RULE.test(line)) {
      blocks.push({ t: "hr" });
      i++;
    } else if (QUOTE.test(line)) {
      blocks.push({ t: "quote", c: parseInline(collect((l) => QUOTE.test(l)).map((l) => l.replace(QUOTE, "")).join("\n")) });
    } else if (BULLET.test(line) || NUMBER.test(line)) {
      const re = BULLET.test(line) ? BULLET : NUMBER;
      blocks.push({ t: re === BULLET ? "ul" : "ol", items: collect((l) => re.test(l)).map((l) => parseInline(l.replace(re, ""))) });
    } else if (line.trim().startsWith("|") && TABLE_SEP.test(lines[i + 1] ?? "")) {
      const head = cells(line);
      i += 2;
      blocks.push({ t: "table", head, rows: collect((l) => l.trim().startsWith("|")).map(cells) });
    } else {
      blocks.push({ t: "p", c: parseInline(collect((l) => l.trim() !== "" && !startsBlock(l)).join("\n")) });
    }
  }
  return blocks;
}

function startsBlock(l: string): boolean {
  return FENCE.test(l) || HEADING.test(l) || RULE.test(l) || QUOTE.test(l) || BULLET.test(l) || NUMBER.test(l);
}

function cells(row: string): Inline[][] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => parseInline(c.trim()));
}

const INLINE = /`([^`]+)`|\*\*(.+?)\*\*|__(.+?)__|\*([^*\s](?:[^*]*[^*\s])?)\*|\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/;

export function parseInline(s: string): Inline[] {
  const out: Inline[] = [];
  let rest = s;
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    if (m.index > 0) out.push({ t: "text", v: rest.slice(0, m.index) });
    if (m[1] !== undefined) out.push({ t: "code", v: m[1] });
    else if (m[2] !== undefined || m[3] !== undefined) out.push({ t: "strong", c: parseInline((m[2] ?? m[3])!) });
    else if (m[4] !== undefined) out.push({ t: "em", c: parseInline(m[4]) });
    else out.push({ t: "link", href: m[6]!, c: parseInline(m[5]!) });
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest) out.push({ t: "text", v: rest });
  return out;
}
