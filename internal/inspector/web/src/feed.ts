// A session's events, folded into what the conversation view draws.
//
// Events are keyed by sequence: one already seen is dropped (a resumed
// stream may repeat nothing, but a reconnecting page must not trust that),
// and one that skips ahead is reported as a gap so the caller re-reads from
// the last sequence it has. Pure: no DOM, no network, so it is unit-tested.

import type {
  ErrorData,
  PermissionEventData,
  QuestionEventData,
  SessionEndedData,
  UniversalEvent,
  UniversalItem,
} from "../../../../sdk-ts/src/index.js";

export interface ItemEntry {
  kind: "item";
  key: string;
  item: UniversalItem;
  /** Text received as deltas while the item is in progress. */
  streamed: string;
}

export interface PermissionEntry {
  kind: "permission";
  key: string;
  data: PermissionEventData;
}

export interface QuestionEntry {
  kind: "question";
  key: string;
  data: QuestionEventData;
}

export type Entry =
  | ItemEntry
  | PermissionEntry
  | QuestionEntry
  | { kind: "error"; key: string; data: ErrorData }
  | { kind: "unparsed"; key: string; error: string; location: string }
  | { kind: "ended"; key: string; data: SessionEndedData }
  | { kind: "interrupted"; key: string };

export type AddResult = "added" | "duplicate" | "gap";

export class Feed {
  readonly events: UniversalEvent[] = [];
  readonly entries: Entry[] = [];
  lastSeq = 0;
  /** Events dropped because their sequence was already here (shown in the events view). */
  duplicates = 0;
  /** Whether a turn has started and not ended. */
  turnOpen = false;
  private items = new Map<string, ItemEntry>();
  private permissions = new Map<string, PermissionEntry>();
  private questions = new Map<string, QuestionEntry>();
  /** Tool names by call id, so a result can say what it answers. */
  readonly toolNames = new Map<string, string>();

  add(ev: UniversalEvent): AddResult {
    if (ev.sequence <= this.lastSeq) {
      this.duplicates++;
      return "duplicate";
    }
    if (ev.sequence !== this.lastSeq + 1) return "gap";
    this.lastSeq = ev.sequence;
    this.events.push(ev);
    this.fold(ev);
    return "added";
  }

  pendingPermissions(): PermissionEntry[] {
    return [...this.permissions.values()].filter((p) => p.data.status === "requested");
  }

  pendingQuestions(): QuestionEntry[] {
    return [...this.questions.values()].filter((q) => q.data.status === "requested");
  }

  private fold(ev: UniversalEvent): void {
    const key = `e${ev.sequence}`;
    switch (ev.type) {
      case "turn.started":
        this.turnOpen = true;
        return;
      case "turn.ended":
        this.turnOpen = false;
        // Adapters mark a turn cut short by an interrupt in its metadata.
        if ((ev.data.metadata as { status?: unknown } | null | undefined)?.status === "interrupted") {
          this.entries.push({ kind: "interrupted", key });
        }
        return;
      case "item.started":
      case "item.completed":
        this.upsertItem(ev.data.item, key);
        return;
      case "item.delta": {
        const entry = this.items.get(ev.data.item_id);
        if (entry) entry.streamed += ev.data.delta;
        return;
      }
      case "permission.requested":
      case "permission.resolved":
        upsert(this.permissions, ev.data.permission_id, this.entries, { kind: "permission", key, data: ev.data });
        return;
      case "question.requested":
      case "question.resolved":
        upsert(this.questions, ev.data.question_id, this.entries, { kind: "question", key, data: ev.data });
        return;
      case "error":
        this.entries.push({ kind: "error", key, data: ev.data });
        return;
      case "agent.unparsed":
        this.entries.push({ kind: "unparsed", key, error: ev.data.error, location: ev.data.location });
        return;
      case "session.ended":
        this.turnOpen = false;
        this.entries.push({ kind: "ended", key, data: ev.data });
        return;
      case "session.started":
        return;
    }
  }

  private upsertItem(item: UniversalItem, key: string): void {
    for (const part of item.content) {
      if (part.type === "tool_call") this.toolNames.set(part.call_id, part.name);
    }
    const entry = this.items.get(item.item_id);
    if (entry) {
      entry.item = item;
      return;
    }
    const created: ItemEntry = { kind: "item", key, item, streamed: "" };
    this.items.set(item.item_id, created);
    this.entries.push(created);
  }
}

/** Updates the entry for `id` in place (keeping its position), or appends it. */
function upsert<E extends PermissionEntry | QuestionEntry>(byId: Map<string, E>, id: string, entries: Entry[], next: E): void {
  const existing = byId.get(id);
  if (existing) {
    existing.data = next.data;
    return;
  }
  byId.set(id, next);
  entries.push(next);
}
