import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";

import { clientFor, loadSettings, saveSettings, type Settings } from "./conn.js";
import { Home } from "./home.js";
import { SessionView } from "./session.js";
import { errorText } from "./ui.js";
import "./style.css";

function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

function App() {
  const [settings, setSettings] = useState<Settings>(loadSettings);
  const [editing, setEditing] = useState(false);
  const [status, setStatus] = useState<"checking" | "ok" | string>("checking");
  const client = useMemo(() => clientFor(settings), [settings]);
  const route = useRoute();

  useEffect(() => {
    const ac = new AbortController();
    setStatus("checking");
    // /v1/health needs no token, so list agents to prove the token works too.
    client
      .listAgents({ signal: ac.signal })
      .then(() => setStatus("ok"))
      .catch((err) => {
        if (ac.signal.aborted) return;
        setStatus(errorText(err));
        setEditing(true);
      });
    return () => ac.abort();
  }, [client]);

  const apply = (s: Settings) => {
    saveSettings(s);
    setSettings(s);
    setEditing(false);
  };

  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">
          agentd <span>inspector</span>
        </a>
        <button class={`conn ${status === "ok" ? "ok" : status === "checking" ? "" : "bad"}`} onClick={() => setEditing(!editing)} title="Connection">
          <i />
          {hostOf(settings.endpoint)}
        </button>
      </header>
      {editing && <ConnectPanel settings={settings} status={status} onApply={apply} />}
      <main>
        {status !== "ok" ? null : route[0] === "s" && route[1] ? (
          <SessionView key={route[1]} client={client} id={route[1]} tab={route[2] ?? "chat"} />
        ) : (
          <Home client={client} />
        )}
      </main>
    </div>
  );
}

function ConnectPanel(props: { settings: Settings; status: string; onApply: (s: Settings) => void }) {
  const [endpoint, setEndpoint] = useState(props.settings.endpoint);
  const [token, setToken] = useState(props.settings.token);
  const failed = props.status !== "ok" && props.status !== "checking";
  return (
    <form
      class="panel connect"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply({ endpoint: endpoint.trim() || location.origin, token: token.trim() });
      }}
    >
      <label>
        Endpoint
        <input name="endpoint" value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} placeholder={location.origin} />
      </label>
      <label>
        Token
        <input name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} placeholder="none" />
      </label>
      <button class="primary" type="submit">
        Connect
      </button>
      {failed && <p class="err">Cannot reach the daemon: {props.status}</p>}
    </form>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

render(<App />, document.getElementById("app")!);
