// CI's entry for the sandbox examples: runs their agentd-facing half against
// the daemon at AGENTD_URL (with AGENTD_TOKEN), sending the extra header a
// sandbox proxy would want, which agentd ignores.

import { driveSession } from "./drive.js";

const url = process.env.AGENTD_URL;
const token = process.env.AGENTD_TOKEN;
if (!url || !token) throw new Error("set AGENTD_URL and AGENTD_TOKEN");
const reply = await driveSession(url, token, { "x-proxy-token": "unused-by-agentd" }, { sessionId: `local-${process.pid}` });
if (reply !== "hello") throw new Error(`the mock agent replied ${JSON.stringify(reply)}, want "hello"`);
console.log("agentd half: ok");
