// How each conversation entry and content part is drawn.

import type { ComponentChild } from "preact";

import type { ContentPart } from "../../../../sdk-ts/src/index.js";
import type { Entry, ItemEntry, PermissionEntry, QuestionEntry } from "./feed.js";
import { parseMarkdown, type Block, type Inline } from "./markdown.js";
import { pretty, prettyJsonString } from "./ui.js";

export interface Actions {
  replyPermission: (id: string, reply: "once" | "always" | "reject") => void;
  replyQuestion: (id: string, answer: string) => void;
  rejectQuestion: (id: string) => void;
}

export function EntryView(props: { entry: Entry; toolNames: Map<string, string>; actions: Actions }) {
  const e = props.entry;
  switch (e.kind) {
    case "item":
      return <ItemView entry={e} toolNames={props.toolNames} />;
    case "permission":
      return <PermissionView entry={e} actions={props.actions} />;
    case "question":
      return <QuestionView entry={e} actions={props.actions} />;
    case "error":
      return (
        <div class="entry error-entry" role="alert">
          <b>Error{e.data.code ? ` (${e.data.code})` : ""}</b>
          <p>{e.data.message}</p>
          {e.data.details != null && <pre>{pretty(e.data.details)}</pre>}
        </div>
      );
    case "unparsed":
      return (
        <div class="entry error-entry">
          <b>Unparsed agent output</b>
          <p>
            {e.error} <span class="muted">at {e.location}</span>
          </p>
        </div>
      );
    case "interrupted":
      return <div class="entry ended-entry">Turn interrupted</div>;
    case "ended":
      return (
        <div class="entry ended-entry">
          Session ended · {e.data.reason} by {e.data.terminated_by}
          {e.data.message ? ` · ${e.data.message}` : ""}
          {e.data.exit_code != null ? ` · exit ${e.data.exit_code}` : ""}
        </div>
      );
  }
}

function ItemView({ entry, toolNames }: { entry: ItemEntry; toolNames: Map<string, string> }) {
  const { item } = entry;
  const live = item.status === "in_progress" && entry.streamed !== "";
  // While an item streams, its deltas are the text so far; once completed,
  // the item's own content is authoritative.
  const parts = live ? item.content.filter((p) => p.type !== "text") : item.content;
  const role = item.role ?? "none";
  return (
    <div class={`entry item kind-${item.kind} role-${role} status-${item.status}`} data-item={item.item_id}>
      {item.kind !== "message" && item.kind !== "status" && (
        <div class="item-head">
          {label(item.kind)}
          {item.status === "failed" && <span class="pill bad">failed</span>}
          {item.status === "in_progress" && <span class="spinner" title="in progress" />}
        </div>
      )}
      {live && (role === "assistant" ? <Markdown text={entry.streamed} streaming /> : <p class="text streaming">{entry.streamed}</p>)}
      {parts.map((p, i) =>
        p.type === "text" && role === "assistant" ? <Markdown key={i} text={p.text} /> : <PartView key={i} part={p} toolNames={toolNames} />,
      )}
    </div>
  );
}

function label(kind: string): string {
  switch (kind) {
    case "tool_call":
      return "Tool call";
    case "tool_result":
      return "Tool result";
    case "system":
      return "System";
    default:
      return kind;
  }
}

function PartView({ part, toolNames }: { part: ContentPart; toolNames: Map<string, string> }) {
  switch (part.type) {
    case "text":
      return <p class="text">{part.text}</p>;
    case "reasoning":
      return (
        <details class="reasoning">
          <summary>Thinking{part.visibility === "private" ? " (private)" : ""}</summary>
          <p>{part.text}</p>
        </details>
      );
    case "json":
      return <pre class="json">{pretty(part.json)}</pre>;
    case "tool_call": {
      const command = commandOf(part.arguments);
      return (
        <div class="tool">
          <code class="tool-name">{part.name}</code>
          {command !== undefined ? <pre class="command">$ {command}</pre> : <pre>{prettyJsonString(part.arguments)}</pre>}
        </div>
      );
    }
    case "tool_result":
      return (
        <div class="tool">
          <span class="muted">{toolNames.get(part.call_id) ?? part.call_id}</span>
          <pre class="output">{part.output}</pre>
        </div>
      );
    case "file_ref":
      return (
        <div class="file">
          <div class="file-head">
            <span class={`pill action-${part.action}`}>{part.action}</span> <code>{part.path}</code>
          </div>
          {part.diff && <Diff text={part.diff} />}
        </div>
      );
    case "image":
      return (
        <p class="muted">
          Image <code>{part.path}</code> {part.mime ?? ""}
        </p>
      );
    case "status":
      return (
        <p class="status-part">
          <span class="pill">{part.label}</span> {part.detail ?? ""}
        </p>
      );
  }
}

/** Assistant text, read as Markdown: agents write it. */
function Markdown({ text, streaming }: { text: string; streaming?: boolean }) {
  return <div class={`md${streaming ? " streaming" : ""}`}>{parseMarkdown(text).map(block)}</div>;
}

function block(b: Block, key: number) {
  switch (b.t) {
    case "p":
      return <p key={key}>{b.c.map(inline)}</p>;
    case "h": {
      const H = `h${Math.min(b.level + 2, 6)}` as "h3";
      return <H key={key}>{b.c.map(inline)}</H>;
    }
    case "code":
      return (
        <pre key={key} class="code" data-lang={b.lang || undefined}>
          {b.v}
        </pre>
      );
    case "ul":
    case "ol": {
      const L = b.t;
      return (
        <L key={key}>
          {b.items.map((it, i) => (
            <li key={i}>{it.map(inline)}</li>
          ))}
        </L>
      );
    }
    case "quote":
      return <blockquote key={key}>{b.c.map(inline)}</blockquote>;
    case "hr":
      return <hr key={key} />;
    case "table":
      return (
        <div class="table" key={key}>
          <table>
            <thead>
              <tr>
                {b.head.map((c, i) => (
                  <th key={i}>{c.map(inline)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {b.rows.map((r, i) => (
                <tr key={i}>
                  {r.map((c, j) => (
                    <td key={j}>{c.map(inline)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
  }
}

function inline(n: Inline, key: number): ComponentChild {
  switch (n.t) {
    case "text":
      return n.v;
    case "code":
      return <code key={key}>{n.v}</code>;
    case "strong":
      return <strong key={key}>{n.c.map(inline)}</strong>;
    case "em":
      return <em key={key}>{n.c.map(inline)}</em>;
    case "link":
      return (
        <a key={key} href={n.href} target="_blank" rel="noopener noreferrer">
          {n.c.map(inline)}
        </a>
      );
  }
}

/** The shell command of a command-execution tool call (Bash and the like), if it is one. */
function commandOf(args: string): string | undefined {
  try {
    const v: unknown = JSON.parse(args);
    if (v && typeof v === "object" && typeof (v as { command?: unknown }).command === "string") {
      return (v as { command: string }).command;
    }
  } catch {
    // Not JSON: shown as it is.
  }
  return undefined;
}

export function Diff({ text }: { text: string }) {
  return (
    <pre class="diff">
      {text.replace(/\n$/, "").split("\n").map((line, i) => (
        <span key={i} class={line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : ""}>
          {line}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}

function PermissionView({ entry, actions }: { entry: PermissionEntry; actions: Actions }) {
  const d = entry.data;
  const meta = (d.metadata ?? {}) as Record<string, unknown>;
  const subject = typeof meta.command === "string" ? meta.command : typeof meta.path === "string" ? meta.path : "";
  const pending = d.status === "requested";
  return (
    <div class={`entry prompt permission ${pending ? "pending" : ""}`} data-permission={d.permission_id}>
      <div class="item-head">
        Permission · {d.action.replace(/_/g, " ")}
        {!pending && <span class={`pill ${d.status === "reject" ? "bad" : "ok"}`}>{d.status.replace(/_/g, " ")}</span>}
      </div>
      {subject && <pre>{subject}</pre>}
      {pending && (
        <div class="buttons">
          <button class="primary" onClick={() => actions.replyPermission(d.permission_id, "once")}>
            Allow once
          </button>
          <button onClick={() => actions.replyPermission(d.permission_id, "always")}>Always allow</button>
          <button class="danger" onClick={() => actions.replyPermission(d.permission_id, "reject")}>
            Reject
          </button>
        </div>
      )}
    </div>
  );
}

function QuestionView({ entry, actions }: { entry: QuestionEntry; actions: Actions }) {
  const d = entry.data;
  const pending = d.status === "requested";
  return (
    <div class={`entry prompt question ${pending ? "pending" : ""}`} data-question={d.question_id}>
      <div class="item-head">
        Question
        {!pending && <span class={`pill ${d.status === "rejected" ? "bad" : "ok"}`}>{d.status}</span>}
      </div>
      <p class="text">{d.prompt}</p>
      {pending ? (
        <div class="buttons">
          {d.options.map((o) => (
            <button key={o} class="primary" onClick={() => actions.replyQuestion(d.question_id, o)}>
              {o}
            </button>
          ))}
          <button class="danger" onClick={() => actions.rejectQuestion(d.question_id)}>
            Decline
          </button>
        </div>
      ) : (
        d.response != null && <p class="answer">→ {String(d.response)}</p>
      )}
    </div>
  );
}
