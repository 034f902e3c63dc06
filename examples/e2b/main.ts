// Creates an E2B sandbox, installs agentd in it with the curl line, starts
// it with E2B's background commands, and streams one turn through E2B's
// public host for the port. Needs E2B_API_KEY; see docs/guides/e2b.md.
//
//   npm ci && npm start                    # the mock agent, in E2B's base template
//   E2B_TEMPLATE=agentd npm start          # a template with agentd baked in (template.ts)

import { randomBytes } from "node:crypto";
import { Sandbox } from "e2b";
import { driveSession } from "../shared/drive.js";

const INSTALL_URL = "https://github.com/agentd-dev/agentd/releases/latest/download/install.sh";
const PORT = 2468;

/** A sandbox with agentd running in it, and what a client needs to reach it. */
export interface AgentdSandbox {
  sandbox: Sandbox;
  baseUrl: string;
  token: string;
  headers: Record<string, string>;
}

export async function startAgentdSandbox(template = "base"): Promise<AgentdSandbox> {
  const token = randomBytes(32).toString("hex"); // one per sandbox; keep it in your backend
  const sandbox = await Sandbox.create(template);
  try {
    // A no-op when the template already has this version (template.ts).
    await sandbox.commands.run(`curl -fsSL ${INSTALL_URL} | sh`, {
      user: "root", // installs to /usr/local/bin, on every user's PATH
      envs: process.env.AGENTD_VERSION ? { AGENTD_VERSION: process.env.AGENTD_VERSION } : {},
    });
    await sandbox.commands.run(`agentd server --host 0.0.0.0 --port ${PORT}`, {
      background: true,
      envs: { AGENTD_TOKEN: token }, // read from the environment: not visible in `ps`
      timeoutMs: 0, // a background command is otherwise cut off after the default timeout
    });
  } catch (err) {
    await sandbox.kill();
    throw err;
  }
  // E2B's proxy needs no header of its own: agentd's token is the lock.
  return { sandbox, baseUrl: `https://${sandbox.getHost(PORT)}`, token, headers: {} };
}

const { sandbox, baseUrl, token, headers } = await startAgentdSandbox(process.env.E2B_TEMPLATE);
try {
  await driveSession(baseUrl, token, headers, { agent: process.env.AGENT ?? "mock" });
} finally {
  await sandbox.kill();
}
