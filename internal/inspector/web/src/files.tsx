// The session's workspace: browse directories, view a file, download an archive.
// Relative paths resolve against the session's working directory.

import { useEffect, useState } from "preact/hooks";

import type { AgentdClient, FsEntry } from "../../../../sdk-ts/src/index.js";
import { errorText } from "./ui.js";

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
    client
      .listFsEntries({ path: dir, sessionId }, { signal: ac.signal })
      .then((list) => setEntries(sortEntries(list)))
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
    try {
      const bytes = await client.readFsFile({ path: entry.path, sessionId });
      setFile({ entry, text: new TextDecoder().decode(bytes) });
    } catch (err) {
      setFile({ entry, text: `Cannot read the file: ${errorText(err)}` });
    }
  };

  const download = async () => {
    setError("");
    // A plain link cannot carry the bearer token, so fetch and hand over a blob.
    let blob: Blob;
    try {
      blob = await (await client.archiveFs({ path: dir, sessionId, format: "tar.gz" })).blob();
    } catch (err) {
      setError(errorText(err));
      return;
    }
    const url = URL.createObjectURL(blob);
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
          <bdi>{dir === "." ? "session directory" : dir}</bdi>
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
