// The agentd-facing half of the sandbox examples (../e2b, ../daytona): it
// needs only a URL, agentd's token and whatever headers the sandbox's proxy
// wants, so CI runs it against a local daemon (local.ts) while the cloud
// halves are only type-checked.

import { connect } from "agentd-sdk";

export interface DriveOptions {
  /** The agent to run; `mock` needs no model or API key. */
  agent?: string;
  message?: string;
  sessionId?: string;
  /** How long to wait for `/v1/health` to answer. */
  healthTimeoutMs?: number;
}

/**
 * Waits until agentd answers, creates a session, streams one turn to stdout
 * and terminates the session. Returns the agent's reply text.
 */
export async function driveSession(
  baseUrl: string,
  token: string,
  headers: Record<string, string>,
  options: DriveOptions = {},
): Promise<string> {
  const agentd = connect({ baseUrl, token, headers });
  const health = await waitForHealth(() => agentd.health(), options.healthTimeoutMs ?? 60_000);
  console.log(`agentd ${health.version} is up at ${baseUrl}`);

  const sessionId = options.sessionId ?? `example-${Date.now()}`;
  const agent = options.agent ?? "mock";
  await agentd.createSession(sessionId, { agent });
  console.log(`session ${sessionId} (agent ${agent})`);

  let reply = "";
  for await (const ev of agentd.streamTurn(sessionId, options.message ?? "hello")) {
    if (ev.type === "item.delta") reply += ev.data.delta;
    console.log(`  #${ev.sequence} ${ev.type}`);
  }
  await agentd.terminateSession(sessionId);
  console.log(`reply: ${reply}`);
  return reply;
}

// A sandbox's proxy may answer (502, connection refused) before agentd
// listens: retry until the deadline, then report the last error.
async function waitForHealth<T>(probe: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() + delay > deadline) throw new Error(`agentd did not answer /v1/health within ${timeoutMs} ms`, { cause: err });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
