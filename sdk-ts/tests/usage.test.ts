// getSessionUsage against a real agentd: a mock session with a budget that
// its first turn reaches; the next message is refused with budget_exceeded.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { AgentdError } from "agentd-sdk";
import { start, type EmbeddedAgentd } from "agentd-sdk/embedded";

import { agentdBinary } from "./helpers.js";

let agentd: EmbeddedAgentd;

before(async () => {
  agentd = await start({ binaryPath: agentdBinary() });
});

after(async () => {
  await agentd?.dispose();
});

describe("getSessionUsage", { timeout: 60_000 }, () => {
  it("reports each turn's usage and the budget it reached", async () => {
    await agentd.createSession("usage-1", { agent: "mock", budget: { maxTokens: 10 } });
    const fresh = await agentd.getSessionUsage("usage-1");
    assert.deepEqual(fresh.turns, []);
    assert.equal(fresh.budget.maxTokens, 10);
    assert.equal(fresh.budget.exceeded, undefined);

    await agentd.postMessage("usage-1", "echo one two three four five");
    // The daemon's budget error follows the turn's end.
    for await (const ev of agentd.streamEvents("usage-1", { offset: 0 })) {
      if (ev.type === "error") break;
    }
    const usage = await agentd.getSessionUsage("usage-1");
    assert.equal(usage.source, "agent");
    assert.equal(usage.turns.length, 1);
    assert.deepEqual([usage.turns[0]!.usage.input_tokens, usage.turns[0]!.usage.output_tokens], [6, 5]);
    assert.equal(usage.total.total_tokens, 11);
    assert.equal(usage.budget.exceeded?.cap, "session");

    await assert.rejects(agentd.postMessage("usage-1", { message: "again" }), (err: unknown) => {
      assert.ok(err instanceof AgentdError);
      assert.equal(err.status, 409);
      assert.equal(err.type, "urn:sandbox-agent:error:budget_exceeded");
      return true;
    });
  });
});
