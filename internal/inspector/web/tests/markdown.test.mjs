// The Markdown reader on what agents write, including half-streamed text.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importTs } from "./helpers.mjs";

const { parseMarkdown, parseInline } = await importTs("src/markdown.ts");

test("blocks", () => {
  const cases = [
    ["plain\ntwo lines", [{ t: "p", c: [{ t: "text", v: "plain\ntwo lines" }] }]],
    ["## Title", [{ t: "h", level: 2, c: [{ t: "text", v: "Title" }] }]],
    ["```ts\nconst a = 1;\n```", [{ t: "code", lang: "ts", v: "const a = 1;" }]],
    ["```\nstill streaming", [{ t: "code", lang: "", v: "still streaming" }]],
    ["- a\n- b", [{ t: "ul", items: [[{ t: "text", v: "a" }], [{ t: "text", v: "b" }]] }]],
    ["1. a\n2. b", [{ t: "ol", items: [[{ t: "text", v: "a" }], [{ t: "text", v: "b" }]] }]],
    ["> quoted", [{ t: "quote", c: [{ t: "text", v: "quoted" }] }]],
    ["---", [{ t: "hr" }]],
    [
      "| A | B |\n|:--|--:|\n| 1 | 2 |",
      [{ t: "table", head: [[{ t: "text", v: "A" }], [{ t: "text", v: "B" }]], rows: [[[{ t: "text", v: "1" }], [{ t: "text", v: "2" }]]] }],
    ],
    ["para\n# Head", [{ t: "p", c: [{ t: "text", v: "para" }] }, { t: "h", level: 1, c: [{ t: "text", v: "Head" }] }]],
  ];
  for (const [src, want] of cases) assert.deepEqual(parseMarkdown(src), want, JSON.stringify(src));
});

test("inline marks", () => {
  assert.deepEqual(parseInline("a `b` **c** *d* [e](https://x.test/)"), [
    { t: "text", v: "a " },
    { t: "code", v: "b" },
    { t: "text", v: " " },
    { t: "strong", c: [{ t: "text", v: "c" }] },
    { t: "text", v: " " },
    { t: "em", c: [{ t: "text", v: "d" }] },
    { t: "text", v: " " },
    { t: "link", href: "https://x.test/", c: [{ t: "text", v: "e" }] },
  ]);
});

test("only http(s) links become links; markup stays text", () => {
  assert.deepEqual(parseInline("[x](javascript:alert(1))"), [{ t: "text", v: "[x](javascript:alert(1))" }]);
  assert.deepEqual(parseInline("<img src=x onerror=alert(1)>"), [{ t: "text", v: "<img src=x onerror=alert(1)>" }]);
  assert.deepEqual(parseInline("2 * 3 * 4"), [{ t: "text", v: "2 * 3 * 4" }]);
});
