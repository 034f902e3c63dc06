// Small helpers shared by the views.

import { AgentdError } from "../../../../sdk-ts/src/index.js";

export function errorText(err: unknown): string {
  if (err instanceof AgentdError) return err.detail || err.title || `HTTP ${err.status}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

/** `arguments` of a tool call is a JSON string; show it indented when it parses. */
export function prettyJsonString(s: string): string {
  try {
    return pretty(JSON.parse(s));
  } catch {
    return s;
  }
}

export function clock(iso: string | number): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
}

export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return new Date(ms).toLocaleDateString();
}

export function newSessionId(): string {
  const n = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");
  return `s-${n}`;
}
