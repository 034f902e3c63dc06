// The session's workspace: browse directories, view a file, download an archive.
// Relative paths resolve against the session's working directory.

import { useEffect, useState } from "preact/hooks";

import type { AgentdClient, components } from "../../../../sdk-ts/src/index.js";
import { errorText } from "./ui.js";

type FsEntry = components["schemas"]["FsEntry"];

/** Files larger than this are offered for download instead of shown. */
const MAX_VIEW_BYTES = 512 * 1024;

export function Files({ client, sessionId }: { client: AgentdClient; sessionId: string }) {
  const [dir, setDir] = useState(".");
  const [entries, setEntries] = useState<FsEntry[] | null>(null);
  const [file, setFile] = useState<{ entry: FsEntry; text: string } | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    const ac = new AbortController();
    setEntries(null);
    setError("");
    client.api
      .GET("/v1/fs/entries", { params: { query: { path: dir, session_id: sessionId } }, signal: ac.signal })
      .then(({ data, error: problem, response }) => {
        if (!response.ok) throw new Error(describe(problem, response));
        setEntries(sortEntries(data ?? []));
      })
      .catch((err) => {
        if (!ac.signal.aborted) setError(errorText(err));
      });
    return () => ac.abort();
  }, [client, sessionId, dir]);

  const openFile = async (entry: FsEntry) => {
    if (entry.size > MAX_VIEW_BYTES) {
      setFile({ entry, text: `(${entry.size} bytes: too large to show here; download the archive instead)` });
      return;
    }
    const { data, error: problem, response } = await client.api.GET("/v1/fs/file", {
      params: { query: { path: entry.path, session_id: sessionId } },
      parseAs: "text",
    });
    setFile({ entry, text: response.ok ? (data ?? "") : `Cannot read the file: ${describe(problem, response)}` });
  };

  const download = async () => {
    setError("");
    // A plain link cannot carry the bearer token, so fetch and hand over a blob.
    const { data, error: problem, response } = await client.api.GET("/v1/fs/archive", {
      params: { query: { path: dir, session_id: sessionId, format: "tar.gz" } },
      parseAs: "blob",
    });
    if (!response.ok || !data) {
      setError(describe(problem, response));
      return;
    }
    const url = URL.createObjectURL(data);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${sessionId}-workspace.tar.gz`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <div class="files">
      <div class="files-bar">
        <code class="cwd" title={dir}>
          {dir === "." ? "session directory" : dir}
        </code>
        {dir !== "." && (
          <button onClick={() => setDir(parentOf(dir))} aria-label="Up one directory">
            ↑ Up
          </button>
        )}
        <button onClick={download}>Download archive</button>
      </div>
      {error && <p class="err">{error}</p>}
      <div class="files-body">
        <ul class="file-list">
          {entries?.length === 0 && <li class="muted">Empty directory.</li>}
          {entries?.map((e) => (
            <li key={e.path}>
              <button
                class={`fs-entry ${e.entryType}`}
                onClick={() => (e.entryType === "directory" ? setDir(e.path) : void openFile(e))}
              >
                <span class="icon">{e.entryType === "directory" ? "▸" : "·"}</span>
                <span class="name">{e.name}</span>
                {e.entryType !== "directory" && <span class="muted small">{e.size} B</span>}
              </button>
            </li>
          ))}
        </ul>
        {file && (
          <div class="file-view">
            <div class="file-head">
              <code>{file.entry.name}</code>
              <button onClick={() => setFile(null)} aria-label="Close file">
                ×
              </button>
            </div>
            <pre>{file.text}</pre>
          </div>
        )}
      </div>
    </div>
  );
}

function sortEntries(list: FsEntry[]): FsEntry[] {
  return [...list].sort((a, b) => Number(b.entryType === "directory") - Number(a.entryType === "directory") || a.name.localeCompare(b.name));
}

function parentOf(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : trimmed.slice(0, i);
}

function describe(problem: unknown, response: Response): string {
  const p = problem as { detail?: string; title?: string } | undefined;
  return p?.detail || p?.title || `HTTP ${response.status}`;
}
