// Embedded mode: start() finds and runs the binary, dispose() and process
// exit leave no agentd behind.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { after, describe, it } from "node:test";

import { AgentdError, connect } from "agentd-sdk";
import { SandboxAgent, resolveAgentdBinary, start } from "agentd-sdk/embedded";

import { agentdBinary, collect, pidAlive, sdkRoot, waitForPidGone, within } from "./helpers.js";

const T = 30_000;
const scratch = mkdtempSync(join(tmpdir(), "agentd-sdk-embedded-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs a Node program (ESM, with agentd-sdk importable) that starts agentd,
 * prints its pid, then runs `then`. Resolves with the pid and the child.
 */
async function nodeProgramWithDaemon(then: string) {
  const program = `
    import { start } from "agentd-sdk/embedded";
    const agentd = await start({ binaryPath: ${JSON.stringify(agentdBinary())} });
    process.stdout.write(JSON.stringify({ pid: agentd.pid }) + "\\n");
    ${then}
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", program], {
    cwd: sdkRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  const pid = await within(
    T,
    "the program to print the daemon pid",
    new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (d: string) => {
        out += d;
        const nl = out.indexOf("\n");
        if (nl !== -1) resolve((JSON.parse(out.slice(0, nl)) as { pid: number }).pid);
      });
      child.once("exit", (code) => reject(new Error(`program exited (${code}) before printing a pid`)));
    }),
  );
  return { pid, child };
}

describe("embedded start()", { concurrency: true, timeout: 4 * T }, () => {
  it("starts a daemon with a random token; dispose() leaves no process and no temp dir", async () => {
    const agentd = await start({ binaryPath: agentdBinary() });
    assert.match(agentd.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(agentd.token, /^[0-9a-f]{64}$/);
    assert.ok(pidAlive(agentd.pid), "the daemon runs");
    assert.equal(agentd.running, true);
    assert.ok(existsSync(agentd.dataDir), "a temporary data dir was made");
    assert.equal((await agentd.health()).status, "ok");
    assert.deepEqual((await agentd.listSessions()).sessions, []);

    // The token is required.
    await assert.rejects(connect({ baseUrl: agentd.baseUrl }).listSessions(), (e: unknown) => e instanceof AgentdError && e.status === 401);

    const exited = once(agentd.child, "exit");
    await within(T, "dispose()", agentd.dispose());
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(code, 0, `a clean SIGTERM shutdown (signal ${signal})`);
    assert.equal(agentd.running, false);
    assert.equal(pidAlive(agentd.pid), false, "no agentd process is left");
    assert.equal(existsSync(agentd.dataDir), false, "the temporary data dir is gone");
    await agentd.dispose(); // again: a no-op
  });

  it("keeps a given dataDir: sessions survive a restart", async () => {
    const dataDir = join(scratch, "data");
    const first = await start({ binaryPath: agentdBinary(), dataDir });
    await first.createSession("kept-1", { agent: "mock" });
    await first.dispose();
    assert.equal(pidAlive(first.pid), false);
    assert.ok(readdirSync(dataDir).length > 0, "the data dir is kept");

    const second = await start({ binaryPath: agentdBinary(), dataDir });
    try {
      const s = (await second.listSessions()).sessions.find((x) => x.sessionId === "kept-1");
      assert.ok(s, "the session is still there");
      assert.equal(s.ended, true, "a session open at shutdown is ended");
      const events = await within(T, "the stored events", collect(second.streamEvents("kept-1")));
      assert.equal(events[0]?.type, "session.started");
      assert.equal(events.at(-1)?.type, "session.ended");
    } finally {
      await second.dispose();
    }
    assert.equal(pidAlive(second.pid), false);
  });

  it("finds the binary: binaryPath, then AGENTD_BIN, then PATH", () => {
    const bin = agentdBinary();
    assert.equal(resolveAgentdBinary(bin, {}), bin);
    assert.equal(resolveAgentdBinary(undefined, { AGENTD_BIN: bin }), bin);
    const onPath = join(scratch, "path-bin");
    mkdirSync(onPath, { recursive: true });
    copyFileSync(bin, join(onPath, "agentd"));
    chmodSync(join(onPath, "agentd"), 0o755);
    assert.equal(resolveAgentdBinary(undefined, { PATH: ["/nonexistent", onPath].join(":") }), join(onPath, "agentd"));
    assert.equal(resolveAgentdBinary(undefined, { AGENTD_BIN: bin, PATH: onPath }), bin, "AGENTD_BIN wins over PATH");
    assert.throws(() => resolveAgentdBinary(undefined, { PATH: "/nonexistent" }), /cannot find the agentd binary/);
    assert.throws(() => resolveAgentdBinary(join(scratch, "missing"), {}), /binaryPath .* is not an executable file/);
  });

  it("start() uses AGENTD_BIN from its env option", async () => {
    const agentd = await start({ env: { AGENTD_BIN: agentdBinary(), PATH: "/nonexistent" } });
    try {
      assert.equal(agentd.binaryPath, agentdBinary());
      assert.equal((await agentd.health()).status, "ok");
    } finally {
      await agentd.dispose();
    }
    assert.equal(pidAlive(agentd.pid), false);
  });

  it("reports a daemon that dies before listening, with its log", async () => {
    const fake = join(scratch, "broken-agentd");
    writeFileSync(fake, "#!/bin/sh\necho 'fatal: cannot open the event log' >&2\nexit 3\n");
    chmodSync(fake, 0o755);
    await assert.rejects(start({ binaryPath: fake }), /exited before listening \(exit code 3\).*\n.*cannot open the event log/s);
  });

  it("SandboxAgent.start() is the reference SDK's spelling", async () => {
    const sa = await SandboxAgent.start({ spawn: { binaryPath: agentdBinary() } });
    try {
      assert.equal((await sa.getHealth()).status, "ok");
    } finally {
      await sa.dispose();
    }
    assert.equal(pidAlive(sa.pid), false);
  });

  it("stops the daemon when the Node process exits without dispose()", async () => {
    // The program returns right after start(): nothing keeps Node alive, it
    // exits, and the exit hook stops the daemon.
    const { pid, child } = await nodeProgramWithDaemon("");
    const [code] = await within(T, "the program to exit", once(child, "exit"));
    assert.equal(code, 0);
    await waitForPidGone(pid, T);
  });

  it("stops the daemon when the Node process is killed by SIGTERM, keeping the default exit", async () => {
    const { pid, child } = await nodeProgramWithDaemon("setInterval(() => {}, 1000);");
    assert.ok(pidAlive(pid));
    child.kill("SIGTERM");
    const [code, signal] = await within(T, "the program to exit", once(child, "exit"));
    assert.equal(signal, "SIGTERM", `the program still dies by the signal (code ${code})`);
    await waitForPidGone(pid, T);
  });
});
