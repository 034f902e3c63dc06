// installAgentStream: the real daemon's stream for the mock agent, its
// refusals, and the `error` frame (from a canned response: a failed npm
// download is not something to provoke against the shared agent cache).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { AgentdError, StreamError, connect, type InstallStreamFrame } from "agentd-sdk";
import { start, type EmbeddedAgentd } from "agentd-sdk/embedded";

import { agentdBinary, within } from "./helpers.js";

const T = 60_000;
let agentd: EmbeddedAgentd;

before(async () => {
  agentd = await start({ binaryPath: agentdBinary() });
});

after(async () => {
  await agentd?.dispose();
});

async function frames(stream: AsyncIterable<InstallStreamFrame>): Promise<InstallStreamFrame[]> {
  const out: InstallStreamFrame[] = [];
  for await (const f of stream) out.push(f);
  return out;
}

/** A client whose fetch answers every request with this SSE body. */
function cannedStream(body: string) {
  return connect({
    baseUrl: "http://agentd.invalid",
    fetch: async () => new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
  });
}

describe("installAgentStream", { timeout: 2 * T }, () => {
  it("ends with done and the agent as now listed", async () => {
    const got = await within(T, "the install stream", frames(agentd.installAgentStream("mock")));
    const last = got.at(-1);
    assert.ok(last?.event === "done", `the last frame is done: ${JSON.stringify(got)}`);
    assert.equal(last.data.agent.id, "mock");
    assert.equal(last.data.agent.installed, true);
    for (const f of got.slice(0, -1)) {
      assert.equal(f.event, "progress");
      assert.ok(["resolving", "downloading", "extracting", "done"].includes(f.data.phase));
    }
  });

  it("throws the refusal of an unknown agent", async () => {
    const err = await frames(agentd.installAgentStream("no-such-agent")).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AgentdError, String(err));
    assert.ok(err.status >= 400 && err.status < 500, `status ${err.status}`);
  });

  it("yields progress, then throws the error frame's problem", async () => {
    const problem = {
      type: "urn:sandbox-agent:error:install_failed",
      title: "Install failed",
      status: 502,
      detail: "registry said 404",
      agent: "claude",
    };
    const client = cannedStream(
      'event: progress\ndata: {"phase":"resolving","package":"@x/y","downloaded":0,"total":0}\n\n' +
        'event: progress\ndata: {"phase":"downloading","package":"@x/y","version":"1.2.3","downloaded":512,"total":2048}\n\n' +
        `event: error\ndata: ${JSON.stringify(problem)}\n\n`,
    );
    const seen: InstallStreamFrame[] = [];
    const err = await (async () => {
      for await (const f of client.installAgentStream("claude")) seen.push(f);
    })().then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.deepEqual(
      seen.map((f) => (f.event === "progress" ? [f.data.phase, f.data.downloaded, f.data.total] : f.event)),
      [
        ["resolving", 0, 0],
        ["downloading", 512, 2048],
      ],
    );
    assert.ok(err instanceof AgentdError, String(err));
    assert.equal(err.kind, "install_failed");
    assert.equal(err.detail, "registry said 404");
    assert.equal(err.agent, "claude");
  });

  it("a stream that closes before done is a StreamError", async () => {
    const client = cannedStream('event: progress\ndata: {"phase":"resolving","downloaded":0,"total":0}\n\n');
    await assert.rejects(frames(client.installAgentStream("claude")), StreamError);
  });

  it("stops when its signal aborts", async () => {
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await assert.rejects(frames(agentd.installAgentStream("mock", {}, { signal: ac.signal })), /stop/);
  });
});
