// The Feed's folding rules, on events shaped like the mock's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importTs } from "./helpers.mjs";

const { Feed } = await importTs("src/feed.ts");

let seq = 0;
const ev = (type, data) => ({ sequence: ++seq, event_id: `evt_${seq}`, type, data, source: "agent", synthetic: false, time: "", session_id: "s", native_session_id: null, raw: null });
const item = (id, status, content, kind = "message", role = "assistant") => ({ item: { item_id: id, native_item_id: null, parent_id: null, kind, role, content, status } });

test("drops repeated sequences and reports gaps without applying them", () => {
  seq = 0;
  const feed = new Feed();
  const a = ev("turn.started", { phase: "started" });
  const b = ev("item.started", item("itm_1", "in_progress", [{ type: "text", text: "hi" }]));
  const c = ev("item.delta", { item_id: "itm_1", native_item_id: null, delta: "hi" });
  assert.equal(feed.add(a), "added");
  assert.equal(feed.add(b), "added");
  assert.equal(feed.add(a), "duplicate");
  assert.equal(feed.add(b), "duplicate");
  const skipped = { ...c, sequence: 5 };
  assert.equal(feed.add(skipped), "gap");
  assert.equal(feed.lastSeq, 2);
  assert.equal(feed.add(c), "added");
  assert.deepEqual(feed.events.map((e) => e.sequence), [1, 2, 3]);
  assert.equal(feed.duplicates, 2);
  assert.equal(feed.entries.length, 1);
  assert.equal(feed.entries[0].streamed, "hi");
  assert.equal(feed.turnOpen, true);
});

test("an item keeps its place; completion replaces its content", () => {
  seq = 0;
  const feed = new Feed();
  feed.add(ev("item.started", item("itm_1", "in_progress", [])));
  feed.add(ev("item.started", item("itm_2", "in_progress", [{ type: "tool_call", name: "mock.search", arguments: "{}", call_id: "c1" }], "tool_call")));
  feed.add(ev("item.delta", { item_id: "itm_1", native_item_id: null, delta: "a" }));
  feed.add(ev("item.delta", { item_id: "itm_1", native_item_id: null, delta: "b" }));
  feed.add(ev("item.completed", item("itm_1", "completed", [{ type: "text", text: "ab!" }])));
  assert.deepEqual(feed.entries.map((e) => e.item.item_id), ["itm_1", "itm_2"]);
  assert.equal(feed.entries[0].item.status, "completed");
  assert.equal(feed.entries[0].item.content[0].text, "ab!");
  assert.equal(feed.toolNames.get("c1"), "mock.search");
});

test("permissions and questions resolve in place", () => {
  seq = 0;
  const feed = new Feed();
  const perm = { permission_id: "p1", action: "command_execution", status: "requested", metadata: { command: "ls" } };
  const q = { question_id: "q1", prompt: "Color?", options: ["Red", "Blue"], response: null, status: "requested" };
  feed.add(ev("permission.requested", perm));
  feed.add(ev("question.requested", q));
  assert.equal(feed.pendingPermissions().length, 1);
  assert.equal(feed.pendingQuestions().length, 1);
  feed.add(ev("permission.resolved", { ...perm, status: "accept" }));
  feed.add(ev("question.resolved", { ...q, status: "answered", response: "Blue" }));
  assert.equal(feed.entries.length, 2);
  assert.equal(feed.pendingPermissions().length, 0);
  assert.equal(feed.pendingQuestions().length, 0);
  assert.equal(feed.entries[1].data.response, "Blue");
});

test("errors, unparsed output, interrupted turns and the session's end are entries", () => {
  seq = 0;
  const feed = new Feed();
  feed.add(ev("turn.started", { phase: "started" }));
  feed.add(ev("error", { message: "boom", code: "x", details: null }));
  feed.add(ev("agent.unparsed", { error: "bad", location: "stdout", raw_hash: null }));
  feed.add(ev("turn.ended", { phase: "ended", metadata: { status: "interrupted" } }));
  feed.add(ev("turn.started", { phase: "started" }));
  feed.add(ev("turn.ended", { phase: "ended", metadata: { status: "completed" } }));
  feed.add(ev("session.ended", { reason: "terminated", terminated_by: "daemon" }));
  assert.deepEqual(feed.entries.map((e) => e.kind), ["error", "unparsed", "interrupted", "ended"]);
  assert.equal(feed.turnOpen, false);
});
