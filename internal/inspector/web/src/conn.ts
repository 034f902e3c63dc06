// Where the inspector connects and with which token.
//
// The daemon serving the page is the default endpoint. A token can come in
// the URL fragment (`/ui/#token=…`: fragments are never sent to servers or
// in Referer headers); it is moved into sessionStorage and removed from the
// address bar at once, so it does not linger in history or screenshots.

import { connect, type AgentdClient } from "../../../../sdk-ts/src/index.js";

export interface Settings {
  endpoint: string;
  token: string;
}

const ENDPOINT_KEY = "agentd.inspector.endpoint";
const TOKEN_KEY = "agentd.inspector.token";
const TOKEN_IN_HASH = /(^#|[?&])token=([^&]*)&?/;

export function loadSettings(): Settings {
  const fromHash = takeTokenFromHash();
  if (fromHash !== undefined) sessionStorage.setItem(TOKEN_KEY, fromHash);
  return {
    endpoint: localStorage.getItem(ENDPOINT_KEY) || location.origin,
    token: sessionStorage.getItem(TOKEN_KEY) ?? "",
  };
}

export function saveSettings(s: Settings): void {
  if (s.endpoint === location.origin) localStorage.removeItem(ENDPOINT_KEY);
  else localStorage.setItem(ENDPOINT_KEY, s.endpoint);
  sessionStorage.setItem(TOKEN_KEY, s.token);
}

export function clientFor(s: Settings): AgentdClient {
  return connect({ baseUrl: s.endpoint, token: s.token || undefined });
}

function takeTokenFromHash(): string | undefined {
  const m = TOKEN_IN_HASH.exec(location.hash);
  if (!m) return undefined;
  const rest = location.hash.replace(TOKEN_IN_HASH, "$1").replace(/^#$/, "");
  history.replaceState(null, "", location.pathname + location.search + rest);
  return decodeURIComponent(m[2] ?? "");
}
