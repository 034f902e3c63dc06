// A server-sent events parser (the WHATWG "event stream interpretation"),
// written against web standards only — TextDecoder and ReadableStream — so it
// runs in browsers, Bun, Deno and Node >= 18 alike.

/** One dispatched SSE message. */
export interface SseMessage {
  /** The `event:` name; `"message"` when the frame had none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last event ID in effect when the message was dispatched ("" if none yet). */
  id: string;
  /** Whether this frame itself carried an `id:` field. */
  hasId: boolean;
  /** A `retry:` value (milliseconds) seen since the previous message, if any. */
  retry?: number;
}

/**
 * Incremental parser: feed decoded text with `push`, get the messages each
 * chunk completes. An unfinished message at end of stream is discarded, as
 * the specification requires, so a connection cut mid-frame never yields a
 * partial event.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private eventName = "";
  private lastEventId = "";
  private frameHasId = false;
  private retry: number | undefined;
  private sawCR = false;
  private started = false;

  /** Comments (`: keep-alive`) seen so far; useful for liveness checks. */
  comments = 0;

  push(text: string): SseMessage[] {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: SseMessage[] = [];
    // The buffer holds the unfinished last line, which has no terminator:
    // only the new text needs scanning.
    let buf = this.buffer + text;
    let start = 0;
    for (let i = this.buffer.length; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c === 10 /* \n */) {
        if (this.sawCR && i === start) {
          // The \n of a \r\n split across chunks: already ended the line.
          this.sawCR = false;
          start = i + 1;
          continue;
        }
        this.sawCR = false;
        this.line(buf.slice(start, i), out);
        start = i + 1;
      } else if (c === 13 /* \r */) {
        this.line(buf.slice(start, i), out);
        if (buf.charCodeAt(i + 1) === 10) i++;
        else this.sawCR = i + 1 === buf.length;
        start = i + 1;
      } else {
        this.sawCR = false;
      }
    }
    this.buffer = buf.slice(start);
    buf = "";
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.eventName = value;
        break;
      case "id":
        if (!value.includes("\0")) {
          this.lastEventId = value;
          this.frameHasId = true;
        }
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SseMessage[]): void {
    const hasData = this.data.length > 0;
    if (hasData) {
      const msg: SseMessage = {
        event: this.eventName || "message",
        data: this.data.join("\n"),
        id: this.lastEventId,
        hasId: this.frameHasId,
      };
      if (this.retry !== undefined) msg.retry = this.retry;
      out.push(msg);
      this.retry = undefined;
    }
    this.data = [];
    this.eventName = "";
    this.frameHasId = false;
  }
}

/** Options for `readSse`. */
export interface ReadSseOptions {
  /** A parser to continue with (default: a new one). */
  parser?: SseParser;
  /** Runs for every chunk received, comments included (liveness). */
  onChunk?: () => void;
  /**
   * Stops reading: the body is cancelled and the signal's reason thrown,
   * even when the fetch implementation does not abort bodies itself.
   */
  signal?: AbortSignal;
}

/**
 * Reads an SSE body to its end, yielding each message. Stops (and cancels
 * the body) when the consumer stops iterating. Read errors — a dropped
 * connection, an abort — are thrown to the caller.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  options: ReadSseOptions = {},
): AsyncGenerator<SseMessage, void, undefined> {
  const { parser = new SseParser(), onChunk, signal } = options;
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const onAbort = () => {
    reader.cancel(signal?.reason).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      // A cancelled read reports done: that is an abort, not the end.
      if (signal?.aborted) throw signal.reason;
      if (done) {
        finished = true;
        for (const m of parser.push(decoder.decode())) yield m;
        return;
      }
      onChunk?.();
      for (const m of parser.push(decoder.decode(value, { stream: true }))) yield m;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) {
      // Early exit (consumer stopped or read failed): release the connection.
      reader.cancel().catch(() => {});
    }
    try {
      reader.releaseLock();
    } catch {
      // a pending read on some runtimes; the cancel above settles it
    }
  }
}
