// agentd-sdk's embedded mode: start() runs the agentd binary as a child of
// this process (a free loopback port, a random token, a temporary data
// directory), waits until it answers, and returns a client. One mock-agent
// turn, then dispose() stops the daemon and removes its data.
//
//   npm ci && AGENTD_BIN=/path/to/agentd npm start
//
// Without AGENTD_BIN (or start({ binaryPath })), start() uses the installed
// platform package (@agentd/cli-<os>-<arch>), then `agentd` on PATH.

import { start } from "agentd-sdk/embedded";

const agentd = await start({ log: process.env.AGENTD_LOG === "1" ? "inherit" : "silent" });
try {
  console.log(`started ${agentd.binaryPath} (pid ${agentd.pid}) at ${agentd.baseUrl}`);
  await agentd.createSession("embedded-demo", { agent: "mock" });

  let reply = "";
  for await (const ev of agentd.streamTurn("embedded-demo", "hello")) {
    if (ev.type === "item.delta") reply += ev.data.delta;
    console.log(`  #${ev.sequence} ${ev.type}`);
  }
  console.log(`reply: ${reply}`);
  if (reply !== "hello") throw new Error(`the mock agent replied ${JSON.stringify(reply)}, want "hello"`);
} finally {
  await agentd.dispose();
}
console.log(`embedded: ok (the daemon is ${agentd.running ? "still running" : "stopped"})`);
