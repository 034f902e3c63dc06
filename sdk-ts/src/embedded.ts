/// <reference types="node" />
// agentd-sdk/embedded: run agentd as a child of this Node process.
//
// Node only (child_process, fs, os). It re-exports the browser-safe entry,
// so `import { start, connect } from "agentd-sdk/embedded"` is all a Node
// program needs.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants as fsConstants, rmSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, join, resolve as resolvePath } from "node:path";
import { createInterface } from "node:readline";

import { AgentdClient, type FetchLike } from "./client.js";
import { SandboxAgent as ConnectOnlySandboxAgent } from "./index.js";

export * from "./index.js";

export interface StartOptions {
  /** The agentd executable. Default: `AGENTD_BIN`, then the platform package (`@agentd/cli-<os>-<arch>`), then `agentd` on PATH. */
  binaryPath?: string;
  /** Where the daemon keeps its event log. Default: a fresh temporary directory, removed by `dispose()`. */
  dataDir?: string;
  /** Environment for the daemon, over this process's (a key set to undefined is removed). */
  env?: Record<string, string | undefined>;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** Listen port. Default 0: a free port the daemon picks. */
  port?: number;
  /** The bearer token. Default: 32 random bytes, hex. */
  token?: string;
  /** How long to wait for the daemon to listen and answer `/v1/health`. Default 30 000 ms. */
  timeoutMs?: number;
  /** How long `dispose()` waits after SIGTERM before SIGKILL. Default 10 000 ms. */
  killGraceMs?: number;
  /**
   * The daemon's log (its stderr, one line at a time): `"silent"` (default;
   * the last lines still appear in start-up errors), `"inherit"` (this
   * process's stderr) or a function.
   */
  log?: "silent" | "inherit" | ((line: string) => void);
  /** Passed to the client (see `connect`). */
  fetch?: FetchLike;
  /** Passed to the client (see `connect`). */
  headers?: Record<string, string>;
  /** The reference SDK's nesting of the spawn options; fields given at the top level win. */
  spawn?: boolean | Pick<StartOptions, "binaryPath" | "env" | "host" | "port" | "token" | "timeoutMs"> & { log?: "silent" | "inherit" | "pipe" };
}

/** A running embedded daemon: a full client plus `dispose()`. */
export class EmbeddedAgentd extends AgentdClient {
  /** The daemon process. */
  readonly child: ChildProcess;
  /** The daemon's process id. */
  readonly pid: number;
  /** The daemon's data directory. */
  readonly dataDir: string;
  /** The executable that was started. */
  readonly binaryPath: string;
  declare readonly token: string;

  private readonly instance: Instance;
  private disposing?: Promise<void>;

  /** @internal Use `start()`. */
  constructor(instance: Instance, fetch: FetchLike | undefined, headers: Record<string, string> | undefined) {
    super({ baseUrl: instance.baseUrl, token: instance.token, fetch, headers });
    this.instance = instance;
    this.child = instance.child;
    this.pid = instance.child.pid!;
    this.dataDir = instance.dataDir;
    this.binaryPath = instance.binaryPath;
  }

  /** Whether the daemon process is still running. */
  get running(): boolean {
    return isRunning(this.child);
  }

  /**
   * Stops the daemon: SIGTERM (it ends sessions and flushes its log), then
   * SIGKILL if it is still there after `killGraceMs`. Removes the data
   * directory when `start()` made it. Safe to call more than once.
   */
  override dispose(): Promise<void> {
    this.disposing ??= stopInstance(this.instance);
    return this.disposing;
  }
}

/**
 * Starts agentd on a free loopback port with a random token, waits until it
 * answers `/v1/health`, and returns a client for it. The daemon is stopped
 * by `dispose()`, or when this Node process exits.
 */
export async function start(options: StartOptions = {}): Promise<EmbeddedAgentd> {
  const nested = typeof options.spawn === "object" ? options.spawn : {};
  if (options.spawn === false) throw new Error("start: spawn:false leaves nothing to start; use connect()");
  const o = { ...nested, ...options, log: options.log ?? (nested.log === "pipe" ? "silent" : nested.log) };

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const binaryPath = resolveAgentdBinary(o.binaryPath, env);
  const token = o.token ?? randomBytes(32).toString("hex");
  const host = o.host ?? "127.0.0.1";
  const port = o.port ?? 0;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const ownDataDir = o.dataDir === undefined;
  const dataDir = ownDataDir ? await mkdtemp(join(tmpdir(), "agentd-sdk-")) : resolvePath(o.dataDir!);

  // The token goes in the environment, not argv, where `ps` would show it.
  env.AGENTD_TOKEN = token;
  delete env.AGENTD_NO_TOKEN;
  const args = ["server", "-H", host, "-p", String(port), "--data-dir", dataDir];

  const child = spawn(binaryPath, args, {
    env,
    stdio: ["ignore", o.log === "inherit" ? "inherit" : "ignore", "pipe"],
    windowsHide: true,
  });
  const instance: Instance = {
    child,
    binaryPath,
    dataDir,
    ownDataDir,
    token,
    baseUrl: "",
    killGraceMs: o.killGraceMs ?? 10_000,
  };
  // Neither the daemon nor its log pipe keeps this process alive: when the
  // program is done, Node exits and the exit hook stops the daemon.
  live.add(instance);
  hookProcessExit();
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();

  try {
    const deadline = Date.now() + timeoutMs;
    instance.baseUrl = await waitForListening(child, o.log, timeoutMs, binaryPath);
    const client = new EmbeddedAgentd(instance, o.fetch, o.headers);
    await waitForHealth(client, child, deadline);
    return client;
  } catch (err) {
    await stopInstance(instance, 0);
    throw err;
  }
}

/**
 * Where `start()` finds agentd: `binaryPath`, else `AGENTD_BIN`, else the
 * installed platform package `@agentd/cli-<os>-<arch>`, else `agentd` on PATH.
 */
export function resolveAgentdBinary(binaryPath?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (binaryPath) return checkExecutable(resolvePath(binaryPath), "binaryPath");
  if (env.AGENTD_BIN) return checkExecutable(resolvePath(env.AGENTD_BIN), "AGENTD_BIN");
  const packaged = platformPackageBinary();
  if (packaged) return checkExecutable(packaged, "the platform package");
  const onPath = findOnPath("agentd", env);
  if (onPath) return onPath;
  throw new Error(
    "start: cannot find the agentd binary. Pass start({ binaryPath }), set AGENTD_BIN, or put agentd on PATH " +
      "(build it with `go build -o agentd ./cmd/agentd`).",
  );
}

// The npm platform packages (install/npm-packages.sh makes them for each
// release and lists them as the SDK's optionalDependencies): npm installs the
// one whose os/cpu fields match, next to this SDK. They are resolved from this
// module's location, not the program's, so a strict layout (pnpm) finds them.
// The CommonJS build has no import.meta: scripts/write-cjs-package.mjs
// rewrites the statement below there.
// @ts-ignore TS1343: import.meta is an error in the CommonJS build only.
const moduleUrl: string = import.meta.url;

/** The platform package's binary for this platform, or undefined when that package is not installed. */
function platformPackageBinary(): string | undefined {
  const pkg = `@agentd/cli-${process.platform}-${process.arch}`;
  try {
    return createRequire(moduleUrl).resolve(`${pkg}/bin/${process.platform === "win32" ? "agentd.exe" : "agentd"}`);
  } catch {
    return undefined;
  }
}

// ---- internals ---------------------------------------------------------------

interface Instance {
  child: ChildProcess;
  binaryPath: string;
  dataDir: string;
  ownDataDir: boolean;
  token: string;
  baseUrl: string;
  killGraceMs: number;
}

const live = new Set<Instance>();

function isRunning(child: ChildProcess): boolean {
  // No pid: the spawn itself failed, so there is nothing to stop.
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function checkExecutable(path: string, source: string): string {
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    accessSync(path, fsConstants.X_OK);
  } catch {
    throw new Error(`start: the agentd binary from ${source} (${path}) is not an executable file`);
  }
  return path;
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? "").split(delimiter).filter(Boolean);
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      try {
        if (statSync(candidate).isFile()) {
          accessSync(candidate, fsConstants.X_OK);
          return candidate;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

const LISTENING = /msg="?agentd listening"?/;
const ADDR = /\baddr=(?:"([^"]+)"|(\S+))/;

/** Reads the daemon's stderr until it logs `agentd listening addr=…`; keeps draining it afterwards. */
function waitForListening(
  child: ChildProcess,
  log: StartOptions["log"],
  timeoutMs: number,
  binaryPath: string,
): Promise<string> {
  const tail: string[] = [];
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, addr?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.off("error", onError);
      if (err) reject(err);
      else resolve(addr!);
    };
    const withTail = (msg: string) => new Error(tail.length ? `${msg}; its log ends:\n${tail.join("\n")}` : msg);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(withTail(`start: agentd exited before listening (${signal ?? `exit code ${code}`})`));
    const onError = (err: Error) => finish(new Error(`start: cannot run ${binaryPath}: ${err.message}`, { cause: err }));
    const timer = setTimeout(() => finish(withTail(`start: agentd did not listen within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", onExit);
    child.once("error", onError);

    // The whole log is always read, so the daemon never blocks on a full pipe.
    const lines = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    lines.on("line", (line) => {
      if (typeof log === "function") log(line);
      else if (log === "inherit") process.stderr.write(line + "\n");
      if (settled) return;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (LISTENING.test(line)) {
        const m = ADDR.exec(line);
        const addr = m?.[1] ?? m?.[2];
        if (addr) finish(undefined, addr.includes("://") ? addr : `http://${addr}`);
      }
    });
  });
}

async function waitForHealth(client: AgentdClient, child: ChildProcess, deadline: number): Promise<void> {
  let delay = 10;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error("start: agentd exited while starting");
    try {
      await client.health({ signal: AbortSignal.timeout(Math.max(1, Math.min(2000, deadline - Date.now()))) });
      return;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
  throw new Error(`start: agentd did not answer /v1/health in time`, { cause: lastErr });
}

async function stopInstance(instance: Instance, graceMs = instance.killGraceMs): Promise<void> {
  const { child } = instance;
  if (isRunning(child)) {
    child.ref(); // keep Node alive until the daemon is gone
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const first = await Promise.race([exited.then(() => "exited" as const), graceOver]);
    clearTimeout(timer);
    if (first === "timeout" && isRunning(child)) {
      child.kill("SIGKILL");
      await exited;
    }
  }
  live.delete(instance);
  unhookProcessExitIfIdle();
  if (instance.ownDataDir) await rm(instance.dataDir, { recursive: true, force: true, maxRetries: 3 });
}

// ---- stopping daemons when this process goes away ------------------------------

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let hooked = false;

function killAllNow(): void {
  for (const instance of live) {
    if (isRunning(instance.child)) {
      try {
        instance.child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    if (instance.ownDataDir) {
      try {
        rmSync(instance.dataDir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
  live.clear();
}

function onProcessExit(): void {
  killAllNow();
}

function onSignal(signal: NodeJS.Signals): void {
  // If the program handles this signal itself, it is in charge (and may
  // dispose of the daemon first); the exit hook still runs when it exits.
  if (process.listenerCount(signal) > 1) return;
  // Otherwise keep Node's default behaviour — die by the signal — but stop
  // the daemons first.
  killAllNow();
  unhookProcessExit();
  process.kill(process.pid, signal);
}

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", onProcessExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhookProcessExit(): void {
  if (!hooked) return;
  hooked = false;
  process.off("exit", onProcessExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

function unhookProcessExitIfIdle(): void {
  if (live.size === 0) unhookProcessExit();
}

/**
 * The reference SDK's entry point with embedded mode:
 * `await SandboxAgent.start()` / `await SandboxAgent.connect({ baseUrl, token })`.
 */
export class SandboxAgent extends ConnectOnlySandboxAgent {
  static start(options: StartOptions = {}): Promise<EmbeddedAgentd> {
    return start(options);
  }
}

/** The reference SDK's name for StartOptions. */
export type SandboxAgentStartOptions = StartOptions;
