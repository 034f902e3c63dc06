// One session: the conversation, the raw events, the workspace files and its git changes.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { UNIVERSAL_EVENT_TYPES, type AgentdClient, type SessionInfo, type UniversalEvent } from "../../../../sdk-ts/src/index.js";
import { Changes } from "./changes.js";
import { Feed } from "./feed.js";
import { Files } from "./files.js";
import { SessionStatus } from "./home.js";
import { EntryView, type Actions } from "./parts.js";
import { Terminal } from "./terminal.js";
import { clock, errorText, pretty } from "./ui.js";

type StreamState = "connecting" | "live" | "done" | string;

/**
 * Follows the session's events into a Feed from its first event on. The SDK
 * resumes a dropped stream with Last-Event-ID; the Feed drops any sequence
 * it already has, and on a gap the stream is reopened after the last one.
 */
function useFeed(client: AgentdClient, id: string) {
  const feed = useMemo(() => new Feed(), [client, id]);
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<StreamState>("connecting");

  useEffect(() => {
    const ac = new AbortController();
    let frame = 0;
    const redraw = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
      });
    };
    const follow = async () => {
      for (;;) {
        let gap = false;
        setState("live");
        for await (const ev of client.streamEvents(id, { offset: feed.lastSeq, includeRaw: true, signal: ac.signal })) {
          if (feed.add(ev) === "gap") {
            gap = true;
            break;
          }
          redraw();
        }
        if (!gap) return;
      }
    };
    follow().then(
      () => setState("done"),
      (err) => {
        if (!ac.signal.aborted) setState(errorText(err));
      },
    );
    return () => {
      ac.abort();
      cancelAnimationFrame(frame);
    };
  }, [feed]);

  return { feed, version, state };
}

function useSessionInfo(client: AgentdClient, id: string, version: number): SessionInfo | undefined {
  const [info, setInfo] = useState<SessionInfo>();
  const [asked, setAsked] = useState(0);
  // Re-read the session's info when its event count moves on: cheap, and it
  // keeps ended/endReason right without polling.
  useEffect(() => {
    const ac = new AbortController();
    client.listSessions({ signal: ac.signal }).then(
      (r) => setInfo(r.sessions.find((s) => s.sessionId === id)),
      () => undefined,
    );
    return () => ac.abort();
  }, [client, id, asked]);
  useEffect(() => {
    const t = setTimeout(() => setAsked((n) => n + 1), 300);
    return () => clearTimeout(t);
  }, [version]);
  return info;
}

export function SessionView(props: { client: AgentdClient; id: string; tab: string }) {
  const { client, id } = props;
  const { feed, version, state } = useFeed(client, id);
  const info = useSessionInfo(client, id, version);
  const [actionError, setActionError] = useState("");
  const run = (p: Promise<unknown>) => {
    setActionError("");
    p.catch((err) => setActionError(errorText(err)));
  };
  const actions: Actions = {
    replyPermission: (pid, reply) => run(client.replyPermission(id, pid, reply)),
    replyQuestion: (qid, answer) => run(client.replyQuestion(id, qid, { answers: [[answer]] })),
    rejectQuestion: (qid) => run(client.rejectQuestion(id, qid)),
  };
  const ended = info?.ended ?? false;
  const waiting = feed.pendingPermissions().length + feed.pendingQuestions().length;
  const base = `#/s/${encodeURIComponent(id)}`;
  const tabs = [
    ["chat", "Conversation"],
    ["events", `Events · ${feed.events.length}`],
    ["files", "Files"],
    ["changes", "Changes"],
    ["terminal", "Terminal"],
  ];

  return (
    <div class="session">
      <div class="session-head">
        <div class="title">
          <a href="#/" class="back" aria-label="All sessions">
            ←
          </a>
          <h1>{info?.title || id}</h1>
          {info && <SessionStatus info={info} />}
          {!ended && feed.turnOpen && <span class="pill busy">working</span>}
          {waiting > 0 && <span class="pill busy">{waiting} waiting for you</span>}
          <span class="muted small">
            {info ? `${info.agent} · ${info.agentMode} · ${info.permissionMode}${info.model ? ` · ${info.model}` : ""}` : ""}
          </span>
        </div>
        <div class="buttons">
          <button disabled={ended || !feed.turnOpen} onClick={() => run(client.interruptSession(id))}>
            Interrupt
          </button>
          <button class="danger" disabled={ended} onClick={() => run(client.terminateSession(id))}>
            Terminate
          </button>
        </div>
      </div>
      <nav class="tabs">
        {tabs.map(([key, name]) => (
          <a key={key} href={`${base}/${key}`} class={props.tab === key ? "active" : ""}>
            {name}
          </a>
        ))}
      </nav>
      {actionError && <p class="err banner">{actionError}</p>}
      {state !== "live" && state !== "done" && state !== "connecting" && <p class="err banner">Event stream: {state}</p>}
      {props.tab === "events" ? (
        <Events events={feed.events} duplicates={feed.duplicates} />
      ) : props.tab === "files" ? (
        <Files client={client} sessionId={id} />
      ) : props.tab === "changes" ? (
        <Changes client={client} sessionId={id} />
      ) : props.tab === "terminal" ? (
        <Terminal client={client} sessionId={id} directory={info?.directory} />
      ) : (
        <Conversation client={client} id={id} feed={feed} version={version} actions={actions} ended={ended} />
      )}
    </div>
  );
}

function Conversation(props: { client: AgentdClient; id: string; feed: Feed; version: number; actions: Actions; ended: boolean }) {
  const { feed } = props;
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // Follow the bottom while the reader is there; leave them be once they scroll up.
  const follow = () => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  };
  useEffect(follow, [props.version]);
  // A resize (a phone turned, its keyboard opening) keeps the bottom in view too.
  useEffect(() => {
    const el = list.current;
    if (!el) return;
    const ro = new ResizeObserver(follow);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const onScroll = () => {
    const el = list.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  return (
    <div class="conversation">
      <div class="entries" ref={list} onScroll={onScroll}>
        {feed.entries.length === 0 && <p class="muted center">No messages yet. Say something below.</p>}
        {feed.entries.map((e) => (
          <EntryView key={e.key} entry={e} toolNames={feed.toolNames} actions={props.actions} />
        ))}
      </div>
      <Composer client={props.client} id={props.id} disabled={props.ended} />
    </div>
  );
}

function Composer(props: { client: AgentdClient; id: string; disabled: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [sending, setSending] = useState(false);
  const send = async () => {
    const message = text.trim();
    if (!message || sending) return;
    setSending(true);
    setError("");
    try {
      // The reply arrives on the session's event stream, like every event.
      await props.client.postMessage(props.id, message);
      setText("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSending(false);
    }
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <textarea
        name="message"
        rows={2}
        placeholder={props.disabled ? "This session has ended." : "Message the agent (Enter sends, Shift+Enter for a new line)"}
        disabled={props.disabled}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button class="primary" type="submit" disabled={props.disabled || sending || !text.trim()}>
        Send
      </button>
      {error && <p class="err">{error}</p>}
    </form>
  );
}

const MAX_ROWS = 500;

function Events(props: { events: UniversalEvent[]; duplicates: number }) {
  const [hidden, setHidden] = useState<Set<string>>(() => new Set(["item.delta"]));
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState<number | null>(null);
  const toggle = (t: string) =>
    setHidden((h) => {
      const next = new Set(h);
      if (!next.delete(t)) next.add(t);
      return next;
    });
  const q = query.trim().toLowerCase();
  const shown = props.events.filter((ev) => !hidden.has(ev.type) && (!q || JSON.stringify(ev).toLowerCase().includes(q)));
  const rows = shown.slice(-MAX_ROWS);

  return (
    <div class="events">
      <div class="filters">
        <input type="search" placeholder="Filter by text" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <div class="chips">
          {UNIVERSAL_EVENT_TYPES.map((t) => (
            <button key={t} class={`chip ${hidden.has(t) ? "" : "on"}`} onClick={() => toggle(t)} aria-pressed={!hidden.has(t)}>
              {t}
            </button>
          ))}
        </div>
        <p class="muted small">
          {shown.length} of {props.events.length} events{shown.length > MAX_ROWS ? ` (last ${MAX_ROWS} shown)` : ""}
          {props.duplicates > 0 ? ` · ${props.duplicates} repeated events dropped` : ""}
        </p>
      </div>
      <ol class="event-list">
        {rows.map((ev) => (
          <li key={ev.sequence} data-seq={ev.sequence} class={`ev type-${ev.type.replace(".", "-")}`}>
            <button class="ev-row" onClick={() => setOpen(open === ev.sequence ? null : ev.sequence)}>
              <span class="seq">{ev.sequence}</span>
              <span class="time">{clock(ev.time)}</span>
              <span class="type">{ev.type}</span>
              <span class="src">{ev.source}</span>
            </button>
            {open === ev.sequence && (
              <div class="ev-body">
                <pre>{pretty(ev.data)}</pre>
                {ev.raw != null && (
                  <>
                    <p class="muted small">raw (native)</p>
                    <pre>{pretty(ev.raw)}</pre>
                  </>
                )}
              </div>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}
