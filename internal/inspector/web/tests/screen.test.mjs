// The console's screen on what shells really send.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importTs } from "./helpers.mjs";

const { Screen } = await importTs("src/screen.ts");

test("screen", () => {
  const cases = [
    ["plain", ["a\r\nb"], "a\nb"],
    ["colours dropped", ["\x1b[1;32mok\x1b[0m"], "ok"],
    ["bracketed paste and title dropped", ["\x1b[?2004h\x1b]0;title\x07$ "], "$ "],
    ["carriage return overwrites", ["abc\rX"], "Xbc"],
    ["backspace then erase", ["abc\b\b\x1b[K"], "a"],
    ["sequence split across chunks", ["x\x1b[3", "1mred"], "xred"],
    ["utf-8 text", ["héllo ✓"], "héllo ✓"],
  ];
  for (const [name, chunks, want] of cases) {
    const s = new Screen();
    for (const c of chunks) s.write(c);
    assert.equal(s.text(), want, name);
  }
});
