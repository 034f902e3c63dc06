// A shell in the session's directory, on the daemon's terminals API: output
// followed over SSE (resumed by the SDK), keystrokes sent a line at a time.

import { useEffect, useRef, useState } from "preact/hooks";

import type { AgentdClient } from "../../../../sdk-ts/src/index.js";
import { Screen } from "./screen.js";
import { errorText } from "./ui.js";

// Terminals outlive the tab that shows them (switching tabs re-attaches and
// replays the daemon's buffer), so their ids are kept per session here.
const open = new Map<string, string>();

export function Terminal(props: { client: AgentdClient; sessionId: string; directory: string | null | undefined }) {
  const { client, sessionId } = props;
  const [id, setId] = useState(open.get(sessionId));
  const [error, setError] = useState("");

  const start = async () => {
    setError("");
    try {
      const t = await client.createTerminal({ cwd: props.directory ?? undefined, cols: 120, rows: 32 });
      open.set(sessionId, t.id);
      setId(t.id);
    } catch (err) {
      setError(errorText(err));
    }
  };

  if (!id) {
    return (
      <div class="terminal empty">
        <p class="muted">A shell on the daemon's machine, in {props.directory ? <code>{props.directory}</code> : "the session's directory"}.</p>
        <button class="primary" onClick={start}>
          Open a shell
        </button>
        {error && <p class="err">{error}</p>}
      </div>
    );
  }
  return (
    <Console
      client={client}
      id={id}
      onClosed={() => {
        open.delete(sessionId);
        setId(undefined);
      }}
    />
  );
}

function Console(props: { client: AgentdClient; id: string; onClosed: () => void }) {
  const { client, id } = props;
  const [text, setText] = useState("");
  const [exited, setExited] = useState<string>();
  const [line, setLine] = useState("");
  const [error, setError] = useState("");
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const ac = new AbortController();
    const screen = new Screen();
    const decoder = new TextDecoder();
    (async () => {
      for await (const ev of client.followTerminalOutput(id, { offset: 0, signal: ac.signal })) {
        if (ev.event === "output") {
          screen.write(decoder.decode(ev.data, { stream: true }));
          setText(screen.text());
        } else {
          setExited(`exited${ev.terminal.exitCode != null ? ` with ${ev.terminal.exitCode}` : ""}`);
        }
      }
    })().catch((err) => {
      if (!ac.signal.aborted) setError(errorText(err));
    });
    return () => ac.abort();
  }, [client, id]);

  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);

  const send = (data: string) => client.writeTerminalInput(id, data).catch((err) => setError(errorText(err)));
  const close = async () => {
    try {
      await client.closeTerminal(id);
    } catch (err) {
      setError(errorText(err));
    }
    props.onClosed();
  };

  return (
    <div class="terminal">
      <pre class="term" ref={pre}>
        {text}
      </pre>
      {error && <p class="err">{error}</p>}
      <form
        class="term-input"
        onSubmit={(e) => {
          e.preventDefault();
          void send(line + "\r");
          setLine("");
        }}
      >
        <span class="prompt-sign">$</span>
        <input name="command" autocomplete="off" spellcheck={false} value={line} disabled={!!exited} onInput={(e) => setLine(e.currentTarget.value)} placeholder={exited ?? "a command, Enter runs it"} />
        <button type="button" disabled={!!exited} onClick={() => void send("\x03")} title="Send Ctrl-C">
          Ctrl-C
        </button>
        <button type="button" class="danger" onClick={close}>
          Close
        </button>
      </form>
    </div>
  );
}
