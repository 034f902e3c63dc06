// Drives agentd through a client generated from docs/openapi-3.0.json by
// @hey-api/openapi-ts (into ./gen, by run.sh): create a mock session, send
// a message, read its events, then terminate. Exits 1 if anything is off.

import { createClient } from "./gen/client";
import { createSession, getEvents, getHealth, postMessage, terminateSession } from "./gen/sdk.gen";

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

const baseUrl = process.env.AGENTD_URL ?? "http://127.0.0.1:2468";
const token = process.env.AGENTD_TOKEN;
const client = createClient({
  baseUrl,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

async function main(): Promise<void> {
  const { data: health } = await getHealth({ client, throwOnError: true });
  console.log(`health: ${health.status} (agentd ${health.version})`);

  const sessionId = `generated-client-${Date.now()}`;
  const { data: created } = await createSession({ client, throwOnError: true, path: { session_id: sessionId }, body: { agent: "mock" } });
  console.log(`created ${sessionId}: native session ${created.nativeSessionId}`);

  // postMessage returns once the agent has the message; the turn runs on.
  await postMessage({ client, throwOnError: true, path: { session_id: sessionId }, body: { message: "hello" } });

  // Page through the log until the turn has ended, waiting on the daemon
  // (the SSE route would stream them; a page is enough here).
  let offset = 0;
  let reply = "";
  for (let ended = false; !ended; ) {
    const { data: page } = await getEvents({ client, throwOnError: true, path: { session_id: sessionId }, query: { offset, limit: 100 } });
    for (const ev of page.events) {
      offset = ev.sequence;
      console.log(`  #${ev.sequence} ${ev.type}`);
      if (ev.type === "item.delta" && "delta" in ev.data) reply += ev.data.delta;
      if (ev.type === "turn.ended") ended = true;
    }
    if (!ended && !page.hasMore) await new Promise((r) => setTimeout(r, 50));
  }
  console.log(`reply: ${reply}`);
  await terminateSession({ client, throwOnError: true, path: { session_id: sessionId } });
  if (reply !== "hello") throw new Error(`the mock agent should echo "hello", replied ${JSON.stringify(reply)}`);
  console.log("generated client: ok");
}

main().catch((err: unknown) => {
  console.error("generated client failed:", err);
  process.exitCode = 1;
});
