// The landing view: agents (with installs), sessions, and a form for a new one.

import { useEffect, useState } from "preact/hooks";

import type { AgentdClient, AgentInfo, AgentModeInfo, AgentModelInfo, InstallProgress, SessionInfo } from "../../../../sdk-ts/src/index.js";
import { ago, errorText, newSessionId } from "./ui.js";

const SESSION_POLL_MS = 3000;

export function Home({ client }: { client: AgentdClient }) {
  const [agents, setAgents] = useState<AgentInfo[] | null>(null);
  const [error, setError] = useState("");
  const reloadAgents = () =>
    client.listAgents().then(
      (r) => setAgents(r.agents),
      (e) => setError(errorText(e)),
    );
  useEffect(() => {
    void reloadAgents();
  }, [client]);

  return (
    <div class="home">
      <section class="card sessions-card">
        <h2>Sessions</h2>
        <Sessions client={client} />
      </section>
      <section class="card new-card">
        <h2>New session</h2>
        {agents && <NewSession client={client} agents={agents} />}
      </section>
      <section class="card agents-card">
        <h2>Agents</h2>
        {error && <p class="err">{error}</p>}
        {agents && <Agents client={client} agents={agents} onInstalled={reloadAgents} />}
      </section>
    </div>
  );
}

/** An install under way: when it started and the daemon's latest progress. */
interface Installing {
  started: number;
  progress?: InstallProgress;
}

function Agents(props: { client: AgentdClient; agents: AgentInfo[]; onInstalled: () => void }) {
  const [installing, setInstalling] = useState<Record<string, Installing>>({});
  const [failed, setFailed] = useState<Record<string, string>>({});
  const [now, setNow] = useState(Date.now());
  const busy = Object.keys(installing).length > 0;
  useEffect(() => {
    if (!busy) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [busy]);

  const install = async (id: string, reinstall: boolean) => {
    const started = Date.now();
    setInstalling((m) => ({ ...m, [id]: { started } }));
    setFailed(({ [id]: _, ...rest }) => rest);
    try {
      for await (const frame of props.client.installAgentStream(id, { reinstall })) {
        if (frame.event === "progress") setInstalling((m) => ({ ...m, [id]: { started, progress: frame.data } }));
      }
      props.onInstalled();
    } catch (err) {
      setFailed((m) => ({ ...m, [id]: errorText(err) }));
    } finally {
      setInstalling(({ [id]: _, ...rest }) => rest);
    }
  };

  return (
    <ul class="agents">
      {props.agents.map((a) => (
        <li key={a.id} data-agent={a.id}>
          <div class="agent-name">
            <b>{a.id}</b>
            {a.version && <span class="muted"> {a.version}</span>}
          </div>
          {installing[a.id] !== undefined ? (
            <InstallStatus state={installing[a.id]!} now={now} />
          ) : a.installed ? (
            <span class="pill ok">installed</span>
          ) : (
            <button onClick={() => install(a.id, false)}>Install</button>
          )}
          {failed[a.id] && <p class="err">{failed[a.id]}</p>}
        </li>
      ))}
    </ul>
  );
}

const PHASE_LABELS: Record<InstallProgress["phase"], string> = {
  resolving: "resolving",
  downloading: "downloading",
  extracting: "extracting",
  done: "finishing",
};

/** The phase, the bytes downloaded of the total as a bar (indeterminate until the size is known), the time spent. */
function InstallStatus({ state, now }: { state: Installing; now: number }) {
  const p = state.progress;
  const known = p !== undefined && p.total > 0;
  const seconds = Math.max(0, Math.round((now - state.started) / 1000));
  return (
    <div class="install-status" role="status" data-phase={p?.phase ?? "starting"}>
      <span class="install-line">
        <span class="spinner" /> installing · {p ? PHASE_LABELS[p.phase] : "starting"}
        {known && ` ${megabytes(p.downloaded)} / ${megabytes(p.total)} MB`} · {seconds}s
      </span>
      {known ? (
        <progress key="bytes" value={Math.min(p.downloaded, p.total)} max={p.total} aria-label="downloaded" />
      ) : (
        <progress key="waiting" aria-label="downloaded" />
      )}
    </div>
  );
}

function megabytes(n: number): string {
  return (n / 1_000_000).toFixed(1);
}

function Sessions({ client }: { client: AgentdClient }) {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const r = await client.listSessions({ signal: ac.signal });
        setSessions(r.sessions);
        setError("");
      } catch (err) {
        if (ac.signal.aborted) return;
        setError(errorText(err));
      }
      timer = setTimeout(poll, SESSION_POLL_MS);
    };
    void poll();
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [client]);

  if (error) return <p class="err">{error}</p>;
  if (!sessions) return <p class="muted">Loading…</p>;
  if (sessions.length === 0) return <p class="muted">No sessions yet.</p>;
  const now = Date.now();
  return (
    <ul class="sessions">
      {sessions.map((s) => (
        <li key={s.sessionId}>
          <a href={`#/s/${encodeURIComponent(s.sessionId)}`} data-session={s.sessionId}>
            <span class="sid">{s.title || s.sessionId}</span>
            <SessionStatus info={s} />
            <span class="meta">
              {s.agent} · {s.eventCount} events · {ago(s.updatedAt, now)}
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

export function SessionStatus({ info }: { info: SessionInfo }) {
  if (!info.ended) return <span class="pill ok">running</span>;
  return <span class={`pill ${info.endReason === "error" ? "bad" : ""}`}>ended{info.endReason ? ` · ${info.endReason}` : ""}</span>;
}

const PERMISSION_MODES = ["default", "plan", "acceptEdits", "bypass"];

function NewSession(props: { client: AgentdClient; agents: AgentInfo[] }) {
  const [id, setId] = useState(newSessionId);
  const [agent, setAgent] = useState(props.agents.find((a) => a.id === "mock")?.id ?? props.agents[0]?.id ?? "");
  const [modes, setModes] = useState<AgentModeInfo[]>([]);
  const [models, setModels] = useState<AgentModelInfo[]>([]);
  const [mode, setMode] = useState("");
  const [permissionMode, setPermissionMode] = useState("default");
  const [model, setModel] = useState("");
  const [directory, setDirectory] = useState("");
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    if (!agent) return;
    const ac = new AbortController();
    // Modes and models are optional extras: an agent that cannot list them
    // still gets a session with its defaults.
    props.client.getAgentModes(agent, { signal: ac.signal }).then(
      (r) => setModes(r.modes),
      () => setModes([]),
    );
    props.client.getAgentModels(agent, { signal: ac.signal }).then(
      (r) => setModels(r.models),
      () => setModels([]),
    );
    setMode("");
    setModel("");
    return () => ac.abort();
  }, [agent, props.client]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setCreating(true);
    setError("");
    try {
      await props.client.createSession(id.trim(), {
        agent,
        agentMode: mode || undefined,
        permissionMode,
        model: model || undefined,
        directory: directory.trim() || undefined,
      });
      location.hash = `#/s/${encodeURIComponent(id.trim())}`;
    } catch (err) {
      setError(errorText(err));
    } finally {
      setCreating(false);
    }
  };

  return (
    <form class="new-session" onSubmit={submit}>
      <label>
        Session id
        <input name="id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
      </label>
      <label>
        Agent
        <select name="agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
          {props.agents.map((a) => (
            <option key={a.id} value={a.id}>
              {a.id}
              {a.installed ? "" : " (installs on first use)"}
            </option>
          ))}
        </select>
      </label>
      <label>
        Mode
        <select name="mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
          <option value="">default</option>
          {modes.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name || m.id}
            </option>
          ))}
        </select>
      </label>
      <label>
        Permissions
        <select name="permissionMode" value={permissionMode} onChange={(e) => setPermissionMode(e.currentTarget.value)}>
          {PERMISSION_MODES.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        Model
        <select name="model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
          <option value="">default</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name || m.id}
            </option>
          ))}
        </select>
      </label>
      <label class="wide">
        Working directory
        <input name="directory" value={directory} placeholder="the daemon's default" onInput={(e) => setDirectory(e.currentTarget.value)} />
      </label>
      <button class="primary wide" type="submit" disabled={creating || !agent}>
        {creating ? "Creating…" : "Create session"}
      </button>
      {error && <p class="err wide">{error}</p>}
    </form>
  );
}
