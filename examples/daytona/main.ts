// Creates a Daytona sandbox, installs agentd in it with the curl line,
// starts it in a Daytona process session, and streams one turn through the
// sandbox's preview link. Needs DAYTONA_API_KEY; see docs/guides/daytona.md.
//
//   npm ci && npm start                              # the mock agent, default image
//   DAYTONA_SNAPSHOT=agentd-v0.1.0 npm start         # a snapshot with agentd baked in (snapshot.ts)

import { randomBytes } from "node:crypto";
import { Daytona, type Sandbox } from "@daytonaio/sdk";
import { driveSession } from "../shared/drive.js";

const INSTALL_URL = "https://github.com/agentd-dev/agentd/releases/latest/download/install.sh";
// Some Daytona versions preview only ports 3000–9999, hence not agentd's default 2468.
const PORT = 3468;

/** A sandbox with agentd running in it, and what a client needs to reach it. */
export interface AgentdSandbox {
  sandbox: Sandbox;
  baseUrl: string;
  token: string;
  headers: Record<string, string>;
}

export async function startAgentdSandbox(daytona: Daytona, snapshot?: string): Promise<AgentdSandbox> {
  const token = randomBytes(32).toString("hex"); // one per sandbox; keep it in your backend
  const sandbox = await daytona.create({ snapshot, envVars: { AGENTD_TOKEN: token } });
  try {
    // Into a directory the sandbox user owns; a no-op when the snapshot already has this version.
    const bin = "$HOME/.local/bin";
    const install = await sandbox.process.executeCommand(
      `curl -fsSL ${INSTALL_URL} | AGENTD_INSTALL_DIR="${bin}" sh`,
      undefined,
      process.env.AGENTD_VERSION ? { AGENTD_VERSION: process.env.AGENTD_VERSION } : {},
    );
    if (install.exitCode !== 0) throw new Error(`installing agentd failed: ${install.result}`);

    // A process session runs the daemon after this call returns and keeps its log.
    await sandbox.process.createSession("agentd");
    await sandbox.process.executeSessionCommand("agentd", {
      command: `PATH="${bin}:$PATH" agentd server --host 0.0.0.0 --port ${PORT}`,
      runAsync: true,
    });
    // Two locks: the preview token gets through Daytona's proxy, agentd's token through agentd.
    const preview = await sandbox.getPreviewLink(PORT);
    return { sandbox, baseUrl: preview.url, token, headers: { "x-daytona-preview-token": preview.token } };
  } catch (err) {
    await sandbox.delete();
    throw err;
  }
}

const daytona = new Daytona(); // reads DAYTONA_API_KEY
const { sandbox, baseUrl, token, headers } = await startAgentdSandbox(daytona, process.env.DAYTONA_SNAPSHOT);
try {
  await driveSession(baseUrl, token, headers, { agent: process.env.AGENT ?? "mock" });
} finally {
  await sandbox.delete();
}
