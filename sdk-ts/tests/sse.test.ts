// The SSE parser on its own: line endings, chunk boundaries, comments,
// ids, and frames cut off by the end of the stream.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SseParser, readSse, type SseMessage } from "agentd-sdk";

function parseAll(text: string): SseMessage[] {
  const p = new SseParser();
  return p.push(text);
}

/** Feeds `text` in pieces of `size` characters. */
function parseChunked(text: string, size: number): SseMessage[] {
  const p = new SseParser();
  const out: SseMessage[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
  return out;
}

function bodyOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

const agentdFrames =
  'id: 1\ndata: {"sequence":1}\n\n' + ": keep-alive\n\n" + 'id: 2\ndata: {"sequence":2}\n\n' + 'id: 3\ndata: {"sequence":3}\n\n';

describe("SseParser", () => {
  it("parses agentd's frames and skips keep-alive comments", () => {
    const p = new SseParser();
    const msgs = p.push(agentdFrames);
    assert.deepEqual(
      msgs.map((m) => [m.id, m.event, m.data, m.hasId]),
      [
        ["1", "message", '{"sequence":1}', true],
        ["2", "message", '{"sequence":2}', true],
        ["3", "message", '{"sequence":3}', true],
      ],
    );
    assert.equal(p.comments, 1);
  });

  it("gives the same result for every chunking, with LF, CRLF and CR line ends", () => {
    const want = parseAll(agentdFrames);
    for (const text of [agentdFrames, agentdFrames.replace(/\n/g, "\r\n"), agentdFrames.replace(/\n/g, "\r")]) {
      for (const size of [1, 2, 3, 5, 7, 13, 64, text.length]) {
        assert.deepEqual(parseChunked(text, size), want, `chunk size ${size}, ${JSON.stringify(text.slice(5, 8))}`);
      }
    }
  });

  it("joins multi-line data, strips one leading space, keeps named events and retry", () => {
    const msgs = parseAll("event: ping\ndata:a\ndata:  b\ndata\nretry: 1500\n\n");
    assert.deepEqual(msgs, [{ event: "ping", data: "a\n b\n", id: "", hasId: false, retry: 1500 }]);
  });

  it("keeps the last id across frames and ignores frames without data", () => {
    const msgs = parseAll("id: 7\n\ndata: x\n\nid: 8\ndata: y\n\n");
    assert.deepEqual(
      msgs.map((m) => [m.id, m.data, m.hasId]),
      [
        ["7", "x", false],
        ["8", "y", true],
      ],
    );
  });

  it("drops a leading BOM", () => {
    assert.deepEqual(parseAll("\ufeffdata: x\n\n").map((m) => m.data), ["x"]);
  });
});

describe("readSse", () => {
  it("decodes UTF-8 split across chunks", async () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const out: string[] = [];
    for await (const m of readSse(body)) out.push(m.data);
    assert.deepEqual(out, ['{"t":"héllo ✓"}']);
  });

  it("discards a frame the stream cut off", async () => {
    const out: string[] = [];
    for await (const m of readSse(bodyOf("id: 1\ndata: one\n\n", "id: 2\ndata: tw"))) out.push(m.id);
    assert.deepEqual(out, ["1"]);
  });

  it("throws a read error after the complete frames", async () => {
    const enc = new TextEncoder();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (pulls++ === 0) c.enqueue(enc.encode("id: 1\ndata: one\n\nid: 2\ndata: t"));
          else c.error(new TypeError("reset"));
        },
      },
      { highWaterMark: 0 },
    );
    const out: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of readSse(body)) out.push(m.id);
      })(),
      TypeError,
    );
    assert.deepEqual(out, ["1"]);
  });
});
