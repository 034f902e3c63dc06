// Shared by the tests: TypeScript modules bundled on the fly, a real agentd
// daemon, and a headless Chromium.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { build } from "esbuild";
import { chromium } from "playwright-core";

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = resolve(webDir, "../../..");

/** Bundles one TypeScript module of src/ and imports it. */
export async function importTs(rel) {
  const dir = await mkdtemp(join(tmpdir(), "inspector-ts-"));
  const out = join(dir, "mod.mjs");
  await build({ entryPoints: [join(webDir, rel)], bundle: true, format: "esm", platform: "neutral", outfile: out, logLevel: "error" });
  try {
    return await import(pathToFileURL(out).href);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Where screenshots go: $AGENTD_ARTIFACTS/inspector or /tmp/agentd-artifacts/inspector. */
export const artifacts = process.env.AGENTD_ARTIFACTS
  ? join(process.env.AGENTD_ARTIFACTS, "inspector")
  : "/tmp/agentd-artifacts/inspector";

export const chromiumPath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

/** Why the browser tests cannot run here, or "" when they can. */
export function browserSkipReason() {
  if (!existsSync(chromiumPath)) return `no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_BIN)`;
  return "";
}

/** The agentd binary: $AGENTD_BIN, or one built from this repository into dir. */
export async function agentdBinary(dir) {
  if (process.env.AGENTD_BIN) return process.env.AGENTD_BIN;
  const bin = join(dir, "agentd");
  await promisify(execFile)("go", ["build", "-o", bin, "./cmd/agentd"], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: "0" } });
  return bin;
}

/**
 * Runs `agentd server` on a free port with its data and file root in dir,
 * without a token unless one is given; resolves once it logs the address
 * it listens on.
 */
export async function startDaemon(bin, dir, { token = "", env = {}, deadlineMs = 60_000 } = {}) {
  const auth = token ? [] : ["--no-token"];
  const child = spawn(bin, ["server", ...auth, "--host", "127.0.0.1", "--port", "0", "--data-dir", join(dir, "data"), "--fs-root", dir], {
    stdio: ["ignore", "ignore", "pipe"],
    // The token goes in the environment so it never shows in `ps`.
    env: { ...process.env, ...env, ...(token ? { AGENTD_TOKEN: token } : {}) },
  });
  const exited = new Promise((res) => child.once("exit", res));
  const lines = [];
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`agentd did not listen within ${deadlineMs} ms:\n${lines.join("\n")}`)), deadlineMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`agentd exited (${code}) before listening:\n${lines.join("\n")}`));
    });
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (lines.length < 200) lines.push(line);
      const m = /agentd listening.*\baddr=(?:"([^"]+)"|(\S+))/.exec(line);
      if (m) {
        clearTimeout(timer);
        const addr = m[1] ?? m[2];
        res(addr.includes("://") ? addr : `http://${addr}`);
      }
    });
  });
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A headless Chromium with a fresh profile; close() removes the profile. */
export async function startBrowser(dir) {
  const profile = await mkdtemp(join(dir, "chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1366, height: 850 },
  });
  return { context, close: () => context.close() };
}

/**
 * A pass-through HTTP proxy in front of the daemon that can cut every open
 * event stream, the way a flaky network or a restarting load balancer does.
 * It records the Last-Event-ID of each event-stream request it forwards.
 */
export async function startProxy(target) {
  const upstream = new URL(target);
  const open = new Set();
  const resumes = [];
  const server = createServer((req, res) => {
    const isStream = req.url.includes("/events/sse");
    if (isStream) {
      resumes.push(req.headers["last-event-id"] ?? null);
      open.add(res.socket);
      res.on("close", () => open.delete(res.socket));
    }
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    resumes,
    /** Destroys the connections of every open event stream; returns how many. */
    cut() {
      const n = open.size;
      for (const s of open) s.destroy();
      open.clear();
      return n;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * An npm registry that holds every request until release() answers them all
 * with a 404: installs through it can be watched while they run, then fail.
 */
export async function startHeldRegistry() {
  const held = [];
  let arrived;
  const first = new Promise((res) => (arrived = res));
  const server = createServer((req, res) => {
    held.push(res);
    arrived(req.url);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    /** Resolves with the path of the first request. */
    firstRequest: first,
    release() {
      for (const res of held.splice(0)) res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
