// Shared test plumbing: the agentd binary under test, timeouts, and a fetch
// wrapper that drops a stream mid-way.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { FetchLike, UniversalEvent } from "agentd-sdk";

/** The sdk-ts package directory (tests run from dist-test/tests/). */
export const sdkRoot = fileURLToPath(new URL("../../", import.meta.url));
/** The agentd repository root (sdk-ts/..). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

let binary: string | undefined;
let buildError: Error | undefined;

/**
 * The agentd binary under test: $AGENTD_BIN, or one built from this
 * repository with `go build` into a temporary directory (once per test file;
 * Go's build cache makes the later builds quick).
 */
export function agentdBinary(): string {
  if (binary) return binary;
  if (buildError) throw buildError;
  if (process.env.AGENTD_BIN) {
    binary = process.env.AGENTD_BIN;
    return binary;
  }
  const dir = mkdtempSync(join(tmpdir(), "agentd-sdk-test-bin-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, process.platform === "win32" ? "agentd.exe" : "agentd");
  const build = spawnSync("go", ["build", "-o", out, "./cmd/agentd"], { cwd: repoRoot, encoding: "utf8" });
  if (build.error || build.status !== 0) {
    buildError = new Error(`go build ./cmd/agentd failed: ${build.error?.message ?? ""}\n${build.stdout}${build.stderr}`);
    throw buildError;
  }
  binary = out;
  return binary;
}

/** Rejects after `ms` with a message naming what was awaited. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects an event stream to its end (or until `stop` says so, inclusive). */
export async function collect(
  stream: AsyncIterable<UniversalEvent>,
  stop?: (ev: UniversalEvent) => boolean,
): Promise<UniversalEvent[]> {
  const out: UniversalEvent[] = [];
  for await (const ev of stream) {
    out.push(ev);
    if (stop?.(ev)) break;
  }
  return out;
}

/** Asserts sequences are 1..n (or from `first`), each once, in order. */
export function sequences(events: UniversalEvent[]): number[] {
  return events.map((e) => e.sequence);
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export interface SeenRequest {
  method: string;
  path: string;
  search: string;
  lastEventId: string | null;
}

/**
 * A fetch that passes everything through but cuts the first streaming
 * response whose path ends with `pathSuffix`: it delivers `frames` complete
 * SSE frames, then the first half of the next frame, then fails the body the
 * way a reset connection does (and aborts the real request).
 */
export function droppingFetch(pathSuffix: string, frames: number): { fetch: FetchLike; requests: SeenRequest[] } {
  const requests: SeenRequest[] = [];
  let cutDone = false;
  const fetchImpl: FetchLike = async (req) => {
    const url = new URL(req.url);
    requests.push({
      method: req.method,
      path: url.pathname,
      search: url.search,
      lastEventId: req.headers.get("last-event-id"),
    });
    if (cutDone || !url.pathname.endsWith(pathSuffix)) return fetch(req);
    cutDone = true;

    const upstream = new AbortController();
    req.signal.addEventListener("abort", () => upstream.abort(req.signal.reason), { once: true });
    const res = await fetch(new Request(req, { signal: upstream.signal }));
    if (!res.body || !res.ok) return res;
    const reader = res.body.getReader();
    let seen = 0;
    let prev = -1;
    let state: "pass" | "partial" | "drop" = "pass";
    const drop = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      upstream.abort();
      controller.error(new TypeError("test: connection reset mid-stream"));
    };
    // highWaterMark 0: pull runs only for a pending read, so every enqueued
    // chunk reaches the reader before the error (an error drops queued chunks).
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (state === "drop") return drop(controller);
          const { done, value } = await reader.read();
          if (done) return controller.close();
          if (state === "partial") {
            // Half of the next frame, then the "connection reset".
            let end = value.length;
            for (let i = 1; i < value.length; i++) {
              if (value[i] === 10 && value[i - 1] === 10) {
                end = i + 1;
                break;
              }
            }
            controller.enqueue(value.slice(0, Math.max(1, Math.floor(end / 2))));
            state = "drop";
            return;
          }
          for (let i = 0; i < value.length; i++) {
            if (value[i] === 10 && prev === 10 && ++seen === frames) {
              const rest = value.length - (i + 1);
              if (rest > 1) {
                // Half of the next frame only (a replay sends many per chunk).
                let next = value.length;
                for (let j = i + 2; j < value.length; j++) {
                  if (value[j] === 10 && value[j - 1] === 10) {
                    next = j + 1;
                    break;
                  }
                }
                controller.enqueue(value.slice(0, i + 1 + Math.max(1, Math.floor((next - (i + 1)) / 2))));
                state = "drop";
              } else {
                controller.enqueue(value.slice(0, i + 1));
                state = "partial";
              }
              return;
            }
            prev = value[i]!;
          }
          controller.enqueue(value);
        },
        cancel(reason) {
          upstream.abort();
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: fetchImpl, requests };
}

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Waits until `pid` is gone, checking every few ms, failing after `ms`. */
export async function waitForPidGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
