// The files, processes and terminals methods against a real agentd whose
// file-system root is a temporary directory.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  AgentdError,
  StreamError,
  connect,
  type FsWatchEvent,
  type ProcessOutputEvent,
  type TerminalOutputEvent,
} from "agentd-sdk";
import { start, type EmbeddedAgentd } from "agentd-sdk/embedded";

import { agentdBinary, droppingFetch, within } from "./helpers.js";

const T = 60_000;

/** Bytes no text layer would leave alone: NUL, invalid UTF-8, a lone CR. */
const BINARY = new Uint8Array([0, 0xff, 0xfe, 0x61, 0, 0x0d, 0x80, 0xc3, 0x28, 0x0d]);

let agentd: EmbeddedAgentd;
let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "agentd-sdk-fs-"));
  agentd = await start({ binaryPath: agentdBinary(), env: { AGENTD_FS_ROOT: root, AGENTD_FS_WATCH_INTERVAL: "50ms" } });
});

after(async () => {
  await agentd?.dispose();
  rmSync(root, { recursive: true, force: true });
});

async function expectStatus(work: Promise<unknown>, status: number): Promise<AgentdError> {
  const err = await work.then(
    () => assert.fail(`expected an AgentdError ${status}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AgentdError, `expected AgentdError, got ${String(err)}`);
  assert.equal(err.status, status, err.message);
  return err;
}

/** Every chunk's bytes for each stream, and the exit item. */
async function drain<E extends ProcessOutputEvent | TerminalOutputEvent>(stream: AsyncIterable<E>) {
  const bytes: Record<string, number[]> = { stdout: [], stderr: [] };
  let exit: E | undefined;
  const seen: E[] = [];
  for await (const ev of stream) {
    seen.push(ev);
    if (ev.event === "exit") exit = ev;
    else bytes["stream" in ev ? ev.stream : "stdout"]!.push(...ev.data);
  }
  return { stdout: Uint8Array.from(bytes.stdout!), stderr: Uint8Array.from(bytes.stderr!), exit, seen };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("agentd-sdk files, processes, terminals", { concurrency: true, timeout: 2 * T }, () => {
  it("writes and reads files byte for byte, and manages entries", async () => {
    const w = await agentd.writeFsFile({ path: "fs/data.bin" }, BINARY);
    assert.deepEqual(w, { path: join(root, "fs/data.bin"), bytesWritten: BINARY.length });
    assert.deepEqual(await agentd.readFsFile({ path: "fs/data.bin" }), BINARY);

    // A streamed body.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(BINARY.subarray(0, 4));
        c.enqueue(BINARY.subarray(4));
        c.close();
      },
    });
    await agentd.writeFsFile({ path: join(root, "fs/streamed.bin") }, stream);
    assert.deepEqual(await agentd.readFsFile({ path: "fs/streamed.bin" }), BINARY);
    await agentd.writeFsFile({ path: "fs/text.txt" }, "héllo");
    assert.equal(text(await agentd.readFsFile({ path: "fs/text.txt" })), "héllo");

    const st = await agentd.statFs({ path: "fs/data.bin" });
    assert.equal(st.entryType, "file");
    assert.equal(st.size, BINARY.length);
    assert.deepEqual(await agentd.mkdirFs({ path: "fs/dir/sub" }), { path: join(root, "fs/dir/sub") });
    assert.deepEqual(
      (await agentd.listFsEntries({ path: "fs" })).map((e) => `${e.name}:${e.entryType}`),
      ["data.bin:file", "dir:directory", "streamed.bin:file", "text.txt:file"],
    );

    const exists = await expectStatus(agentd.moveFs({ from: "fs/data.bin", to: "fs/text.txt" }), 400);
    assert.match(exists.message, /destination already exists/);
    assert.deepEqual(await agentd.moveFs({ from: "fs/data.bin", to: "fs/dir/sub/moved.bin", overwrite: true }), {
      from: join(root, "fs/data.bin"),
      to: join(root, "fs/dir/sub/moved.bin"),
    });

    // archive → upload restores the tree.
    const archive = new Uint8Array(await (await agentd.archiveFs({ path: "fs/dir" })).arrayBuffer());
    assert.deepEqual([...archive.subarray(0, 2)], [0x1f, 0x8b], "a gzip stream");
    const up = await agentd.uploadFsBatch(archive, { path: "fs/restored" });
    assert.ok(up.paths.includes(join(root, "fs/restored/sub/moved.bin")), JSON.stringify(up));
    assert.deepEqual(await agentd.readFsFile({ path: "fs/restored/sub/moved.bin" }), BINARY);
    const zip = new Uint8Array(await (await agentd.archiveFs({ path: "fs/dir", format: "zip" })).arrayBuffer());
    assert.equal(text(zip.subarray(0, 2)), "PK");

    await expectStatus(agentd.deleteFsEntry({ path: "fs/dir" }), 400);
    assert.deepEqual(await agentd.deleteFsEntry({ path: "fs/dir", recursive: true }), { path: join(root, "fs/dir") });
    await expectStatus(agentd.statFs({ path: "fs/dir" }), 400);
  });

  it("refuses paths outside the root", async () => {
    const outside = mkdtempSync(join(tmpdir(), "agentd-sdk-outside-"));
    try {
      symlinkSync(outside, join(root, "escape"));
      for (const work of [
        () => agentd.readFsFile({ path: "../etc/passwd" }),
        () => agentd.readFsFile({ path: "/etc/passwd" }),
        () => agentd.writeFsFile({ path: "escape/planted" }, "x"),
        () => agentd.listFsEntries({ path: ".." }),
        () => agentd.startProcess({ argv: ["true"], cwd: ".." }),
        () => agentd.createTerminal({ argv: ["true"], cwd: "escape" }),
      ]) {
        await expectStatus(work(), 400);
      }
      await expectStatus(agentd.listFsEntries({ sessionId: "nope" }), 404);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("watches a directory", async () => {
    await agentd.mkdirFs({ path: "watched" });
    const ac = new AbortController();
    const events: FsWatchEvent[] = [];
    await within(
      T,
      "a change",
      (async () => {
        for await (const ev of agentd.watchFs({ path: "watched" }, { signal: ac.signal })) {
          events.push(ev);
          if (ev.event === "ready") await agentd.writeFsFile({ path: "watched/new.txt" }, "x");
          if (ev.event === "change") break;
        }
      })(),
    );
    assert.equal(events[0]?.event, "ready");
    assert.deepEqual(events[1], { event: "change", data: { type: "created", path: join(root, "watched/new.txt"), entryType: "file" } });

    // Removing the directory ends the stream with an error.
    const iter = agentd.watchFs({ path: "watched" });
    const first = await iter.next();
    assert.equal(first.value?.event, "ready");
    await agentd.deleteFsEntry({ path: "watched", recursive: true });
    await assert.rejects(
      within(T, "the watch to fail", (async () => {
        for await (const _ of iter) void _;
      })()),
      (err: unknown) => err instanceof StreamError && /the daemon ended the stream/.test(err.message),
    );
  });

  it("runs processes: output, logs, stdin, signals", async () => {
    const script = `printf 'out\\000\\377'; printf 'err\\n' >&2; printf '%s' "$GREETING"; exit 3`;
    const p = await agentd.startProcess({ argv: ["sh", "-c", script], env: { GREETING: "hi" } });
    assert.match(p.id, /^proc_/);
    const { stdout, stderr, exit } = await within(T, "the output", drain(agentd.followProcessOutput(p.id)));
    assert.deepEqual(stdout, new Uint8Array([...new TextEncoder().encode("out"), 0, 0xff, ...new TextEncoder().encode("hi")]));
    assert.equal(text(stderr), "err\n");
    assert.ok(exit?.event === "exit" && exit.process.exitCode === 3 && exit.process.status === "exited", JSON.stringify(exit));

    const out = await agentd.getProcessOutput(p.id, { encoding: "base64" });
    assert.equal(out.stdout, Buffer.from(stdout).toString("base64"));
    assert.deepEqual(await agentd.getProcessLog(p.id, "stdout"), stdout);
    assert.equal((await agentd.getProcess(p.id)).exitCode, 3);
    assert.ok((await agentd.listProcesses()).processes.some((q) => q.id === p.id));

    // stdin: text, then bytes with close.
    const cat = await agentd.startProcess({ argv: ["cat"], stdin: true });
    assert.deepEqual(await agentd.writeProcessStdin(cat.id, "line\n"), { bytesWritten: 5 });
    assert.deepEqual(await agentd.writeProcessStdin(cat.id, BINARY, { close: true }), { bytesWritten: BINARY.length });
    const echoed = await within(T, "cat's output", drain(agentd.followProcessOutput(cat.id)));
    assert.deepEqual(echoed.stdout, new Uint8Array([...new TextEncoder().encode("line\n"), ...BINARY]));
    await expectStatus(agentd.writeProcessStdin(cat.id, "more"), 409);

    const sleeper = await agentd.startProcess({ argv: ["sleep", "60"] });
    assert.equal((await agentd.signalProcess(sleeper.id, "INT")).id, sleeper.id);
    const ended = await within(T, "the signalled exit", drain(agentd.followProcessOutput(sleeper.id)));
    assert.ok(ended.exit?.event === "exit" && ended.exit.process.signal === "SIGINT", JSON.stringify(ended.exit));
    const other = await agentd.startProcess({ argv: ["sleep", "60"], timeoutMs: 60_000 });
    const killed = await agentd.killProcess(other.id);
    assert.equal(killed.status, "exited");
    assert.ok(killed.signal, "killed by a signal");

    assert.equal((await agentd.deleteProcess(p.id)).id, p.id);
    await expectStatus(agentd.getProcess(p.id), 404);
    await expectStatus(agentd.getProcessLog(p.id, "stdout"), 404);
    await assert.rejects(agentd.followProcessOutput("proc_nope").next(), (e: unknown) => e instanceof AgentdError && e.status === 404);
  });

  it("resumes a dropped process output stream with Last-Event-ID", async () => {
    const script = "for i in 1 2 3 4 5 6; do printf \"line$i\\n\"; done";
    const p = await agentd.startProcess({ argv: ["sh", "-c", script] });
    await within(T, "the exit", drain(agentd.followProcessOutput(p.id)));
    const { fetch, requests } = droppingFetch("/output/sse", 1);
    const client = connect({ baseUrl: agentd.baseUrl, token: agentd.token, fetch });
    const { stdout, seen } = await within(T, "the resumed output", drain(client.followProcessOutput(p.id, { retry: { initialDelayMs: 1 } })));
    assert.equal(text(stdout), "line1\nline2\nline3\nline4\nline5\nline6\n");
    const seqs = seen.flatMap((e) => (e.event === "output" ? [e.seq] : []));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in order");
    assert.equal(new Set(seqs).size, seqs.length, "each chunk once");
    const follows = requests.filter((r) => r.path.endsWith("/output/sse"));
    assert.equal(follows.length, 2, JSON.stringify(requests));
    assert.equal(follows[0]!.lastEventId, null);
    assert.equal(follows[1]!.lastEventId, "1");
  });

  it("drives terminals: input, follow, resize, close", async () => {
    const script = `printf 'ready\\n'; read line; printf 'got:%s\\n' "$line"; exit 4`;
    const t = await agentd.createTerminal({ argv: ["sh", "-c", script], cols: 100, rows: 30 });
    assert.match(t.id, /^term_/);
    assert.deepEqual([t.cols, t.rows, t.status], [100, 30, "running"]);
    const resized = await agentd.resizeTerminal(t.id, { cols: 50, rows: 20 });
    assert.deepEqual([resized.cols, resized.rows], [50, 20]);
    assert.equal((await agentd.getTerminal(t.id)).cols, 50);

    let screen = "";
    let exit: TerminalOutputEvent | undefined;
    let typed = false;
    await within(
      T,
      "the terminal's exit",
      (async () => {
        for await (const ev of agentd.followTerminalOutput(t.id)) {
          if (ev.event === "exit") exit = ev;
          else screen += text(ev.data);
          if (!typed && screen.includes("ready")) {
            typed = true;
            assert.deepEqual(await agentd.writeTerminalInput(t.id, "abc\r"), { bytesWritten: 4 });
          }
        }
      })(),
    );
    assert.match(screen, /got:abc/);
    assert.ok(exit?.event === "exit" && exit.terminal.exitCode === 4, JSON.stringify(exit));
    await expectStatus(agentd.writeTerminalInput(t.id, "late"), 409);

    // From an offset: the first chunk starts there.
    const fromThree = agentd.followTerminalOutput(t.id, { offset: 3 });
    const first = await fromThree.next();
    await fromThree.return();
    assert.ok(first.value?.event === "output" && first.value.offset === 3, JSON.stringify(first.value));

    const shell = await agentd.createTerminal({ argv: ["sh"] });
    assert.ok((await agentd.listTerminals()).terminals.some((x) => x.id === shell.id));
    assert.equal((await agentd.closeTerminal(shell.id)).status, "exited");
    await expectStatus(agentd.getTerminal(shell.id), 404);
  });
});
