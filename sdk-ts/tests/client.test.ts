// Every client method, every error kind, and the event streams, against a
// real agentd (built from this repository) running the mock agent.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  AgentdError,
  SandboxAgent,
  StreamError,
  connect,
  isEventType,
  type AgentdClient,
  type FetchLike,
  type UniversalEvent,
} from "agentd-sdk";
import { start, type EmbeddedAgentd } from "agentd-sdk/embedded";

import { agentdBinary, collect, droppingFetch, range, sequences, within } from "./helpers.js";

const T = 60_000; // per-test ceiling; the mock's demo takes ~14 s

let agentd: EmbeddedAgentd;

/** A client on the test daemon with its own fetch. */
function clientWith(fetch: FetchLike): AgentdClient {
  return connect({ baseUrl: agentd.baseUrl, token: agentd.token, fetch });
}

async function expectProblem(work: Promise<unknown>, want: Partial<AgentdError>): Promise<AgentdError> {
  const err = await work.then(
    () => assert.fail("expected an AgentdError"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AgentdError, `expected AgentdError, got ${String(err)}`);
  for (const [k, v] of Object.entries(want)) {
    assert.deepEqual((err as unknown as Record<string, unknown>)[k], v, `AgentdError.${k}`);
  }
  return err;
}

/** Posts a message, then follows the session's stream until `until` (inclusive). */
async function runUntil(sessionId: string, message: string, until: (ev: UniversalEvent) => boolean): Promise<UniversalEvent[]> {
  const signal = AbortSignal.timeout(T);
  const { events: before } = await agentd.getEvents(sessionId);
  const offset = before.at(-1)?.sequence ?? 0;
  await agentd.postMessage(sessionId, message);
  return collect(agentd.streamEvents(sessionId, { offset, signal }), until);
}

before(async () => {
  agentd = await start({ binaryPath: agentdBinary() });
});

after(async () => {
  await agentd?.dispose();
});

describe("agentd-sdk client", { concurrency: true, timeout: 2 * T }, () => {
  it("health", async () => {
    const h = await agentd.health();
    assert.equal(h.status, "ok");
    assert.equal(typeof h.version, "string");
    assert.deepEqual(await agentd.getHealth(), h);
  });

  it("listAgents, installAgent, getAgentModes, getAgentModels", async () => {
    const { agents } = await agentd.listAgents();
    const mock = agents.find((a) => a.id === "mock");
    assert.ok(mock, "mock is listed");
    assert.equal(mock.installed, true);
    assert.equal(typeof mock.capabilities.permissions, "boolean");

    await agentd.installAgent("mock");
    await agentd.installAgent("mock", { reinstall: false });

    const { modes } = await agentd.getAgentModes("mock");
    assert.deepEqual(
      modes.map((m) => m.id),
      ["build", "plan"],
    );
    const models = await agentd.getAgentModels("mock");
    assert.equal(models.defaultModel, "mock");
    assert.deepEqual(
      models.models.map((m) => m.id),
      ["mock"],
    );
  });

  it("createSession, listSessions", async () => {
    const created = await agentd.createSession("list-1", { agent: "mock", agentMode: "plan", title: "hello" });
    assert.equal(created.healthy, true);
    assert.equal(created.nativeSessionId, "mock-list-1");
    const { sessions } = await agentd.listSessions();
    const s = sessions.find((x) => x.sessionId === "list-1");
    assert.ok(s, "the new session is listed");
    assert.equal(s.agent, "mock");
    assert.equal(s.agentMode, "plan");
    assert.equal(s.title, "hello");
    assert.equal(s.model, "mock");
    assert.equal(s.ended, false);
  });

  it("postMessage and getEvents with offset, limit and includeRaw", async () => {
    await agentd.createSession("events-1", { agent: "mock" });
    const streamed = await runUntil("events-1", "Reply with exactly the single word OK.", (e) => e.type === "turn.ended");
    assert.deepEqual(sequences(streamed), range(2, 8));

    const all = await agentd.getEvents("events-1");
    assert.equal(all.hasMore, false);
    assert.deepEqual(all.events.slice(1), streamed);
    assert.deepEqual(
      all.events.map((e) => e.type),
      ["session.started", "turn.started", "item.started", "item.completed", "item.started", "item.delta", "item.completed", "turn.ended"],
    );
    const delta = all.events.find((e) => isEventType(e, "item.delta"));
    assert.ok(delta && isEventType(delta, "item.delta"));
    assert.equal(delta.data.delta, "OK");

    const page = await agentd.getEvents("events-1", { offset: 2, limit: 3 });
    assert.deepEqual(sequences(page.events), [3, 4, 5]);
    assert.equal(page.hasMore, true);
    const none = await agentd.getEvents("events-1", { limit: 0 });
    assert.deepEqual(none.events, []);
    assert.equal(none.hasMore, true);

    // include_raw: the mock's agent.unparsed carries {"raw":"mock"} only when asked.
    await runUntil("events-1", "unparsed", (e) => e.type === "turn.ended");
    const plain = (await agentd.getEvents("events-1", { offset: 8 })).events.find((e) => e.type === "agent.unparsed");
    const raw = (await agentd.getEvents("events-1", { offset: 8, includeRaw: true })).events.find((e) => e.type === "agent.unparsed");
    assert.equal(plain?.raw, null);
    assert.deepEqual(raw?.raw, { raw: "mock" });
  });

  it("postMessage accepts a MessageRequest with attachments", async () => {
    await agentd.createSession("attach-1", { agent: "mock" });
    const { events: before } = await agentd.getEvents("attach-1");
    await agentd.postMessage("attach-1", { message: "look", attachments: [{ path: "/tmp/notes.txt", mime: "text/plain" }] });
    const events = await collect(
      agentd.streamEvents("attach-1", { offset: before.at(-1)!.sequence, signal: AbortSignal.timeout(T) }),
      (e) => e.type === "item.completed",
    );
    const user = events.at(-1);
    assert.ok(user && isEventType(user, "item.completed"));
    assert.equal(user.data.item.role, "user");
    assert.deepEqual(user.data.item.content, [{ type: "text", text: "look\n\nAttachments:\n- /tmp/notes.txt" }]);
  });

  it("terminateSession (idempotent), then messages are refused", async () => {
    await agentd.createSession("term-1", { agent: "mock" });
    await agentd.terminateSession("term-1");
    await agentd.terminateSession("term-1");
    const s = (await agentd.listSessions()).sessions.find((x) => x.sessionId === "term-1");
    assert.equal(s?.ended, true);
    assert.equal(s?.endReason, "terminated");
    const last = (await agentd.getEvents("term-1")).events.at(-1);
    assert.ok(last && isEventType(last, "session.ended"));
    assert.equal(last.data.reason, "terminated");
    await expectProblem(agentd.postMessage("term-1", "hello"), {
      status: 400,
      type: "urn:sandbox-agent:error:invalid_request",
    });
  });

  it("interruptSession cuts the running turn; the session stays usable", async () => {
    await agentd.createSession("intr-1", { agent: "mock" });
    const events = agentd.streamEvents("intr-1", { signal: AbortSignal.timeout(T) });
    await agentd.postMessage("intr-1", "demo");
    let interrupted = false;
    for await (const ev of events) {
      if (!interrupted && ev.type === "item.completed") {
        await agentd.interruptSession("intr-1");
        interrupted = true;
      }
      if (ev.type === "turn.ended") {
        assert.ok(isEventType(ev, "turn.ended"));
        assert.deepEqual(ev.data.metadata, { status: "interrupted" });
        break;
      }
    }
    assert.ok(interrupted);
    await agentd.postMessage("intr-1", "hello"); // still open
    await agentd.terminateSession("intr-1");
  });

  it("replyPermission: once and reject", async () => {
    await agentd.createSession("perm-1", { agent: "mock" });
    const turn = await collect(agentd.streamTurn("perm-1", "permission", { signal: AbortSignal.timeout(T) }));
    const first = turn.at(-1);
    assert.ok(first && isEventType(first, "permission.requested"), "streamTurn stops at permission.requested");
    assert.equal(first.data.permission_id, "mock_1_permission");

    const more = await collect(
      agentd.streamEvents("perm-1", { offset: first.sequence, signal: AbortSignal.timeout(T) }),
      (e) => e.type === "permission.requested",
    );
    const second = more.at(-1);
    assert.ok(second && isEventType(second, "permission.requested"));
    assert.equal(second.data.permission_id, "mock_1_permission_denied");

    await agentd.replyPermission("perm-1", "mock_1_permission", { reply: "once" });
    await agentd.replyPermission("perm-1", "mock_1_permission_denied", "reject");

    const resolved = await collect(
      agentd.streamEvents("perm-1", { offset: second.sequence, signal: AbortSignal.timeout(T) }),
      (e) => e.type === "permission.resolved" && e.data.permission_id === "mock_1_permission_denied",
    );
    const statuses = resolved.filter((e) => isEventType(e, "permission.resolved")).map((e) => (e.data as { status: string }).status);
    assert.deepEqual(statuses, ["accept", "reject"]);

    await expectProblem(agentd.replyPermission("perm-1", "mock_1_permission", "once"), {
      status: 400,
      type: "urn:sandbox-agent:error:invalid_request",
    });
  });

  it("replyQuestion and rejectQuestion", async () => {
    await agentd.createSession("q-1", { agent: "mock" });
    const events = await runUntil(
      "q-1",
      "question",
      (e) => e.type === "question.requested" && e.data.question_id === "mock_1_question_reject",
    );
    assert.deepEqual(
      events.filter((e) => e.type === "question.requested").map((e) => (e.data as { question_id: string }).question_id),
      ["mock_1_question", "mock_1_question_reject"],
    );
    const lastSeq = events.at(-1)!.sequence;

    await agentd.replyQuestion("q-1", "mock_1_question", { answers: [["Red"]] });
    await agentd.rejectQuestion("q-1", "mock_1_question_reject");

    const resolved = await collect(
      agentd.streamEvents("q-1", { offset: lastSeq, signal: AbortSignal.timeout(T) }),
      (e) => e.type === "question.resolved" && e.data.question_id === "mock_1_question_reject",
    );
    const data = resolved.filter((e) => isEventType(e, "question.resolved")).map((e) => e.data as { status: string; response: string | null });
    assert.deepEqual(
      data.map((d) => [d.status, d.response]),
      [
        ["answered", "Red"],
        ["rejected", null],
      ],
    );
    await expectProblem(agentd.rejectQuestion("q-1", "mock_1_question"), { status: 400 });
  });

  it("errors: 404 session_not_found", async () => {
    const err = await expectProblem(agentd.getEvents("no-such-session"), {
      status: 404,
      type: "urn:sandbox-agent:error:session_not_found",
      title: "Session Not Found",
      sessionId: "no-such-session",
      detail: "session not found: no-such-session",
    });
    assert.equal(err.kind, "session_not_found");
    assert.equal(err.response?.status, 404);
    assert.equal(err.problem.status, 404);
    assert.match(err.message, /session not found: no-such-session \(404 session_not_found\)/);
    for (const work of [
      () => agentd.postMessage("no-such-session", "hi"),
      () => agentd.terminateSession("no-such-session"),
      () => agentd.replyPermission("no-such-session", "p", "once"),
      () => agentd.replyQuestion("no-such-session", "q", { answers: [] }),
      () => agentd.rejectQuestion("no-such-session", "q"),
      () => collect(agentd.streamEvents("no-such-session")),
      () => collect(agentd.streamTurn("no-such-session", "hi")),
    ]) {
      await expectProblem(work(), { status: 404, kind: "session_not_found", sessionId: "no-such-session" });
    }
  });

  it("errors: 409 session_already_exists", async () => {
    await agentd.createSession("dup-1", { agent: "mock" });
    await expectProblem(agentd.createSession("dup-1", { agent: "mock" }), {
      status: 409,
      type: "urn:sandbox-agent:error:session_already_exists",
      sessionId: "dup-1",
    });
  });

  it("errors: 400 mode_not_supported and unsupported_agent", async () => {
    await expectProblem(agentd.createSession("mode-1", { agent: "mock", agentMode: "warp" }), {
      status: 400,
      type: "urn:sandbox-agent:error:mode_not_supported",
      agent: "mock",
      details: { mode: "warp" },
    });
    await expectProblem(agentd.createSession("agent-1", { agent: "nonesuch" }), {
      status: 400,
      kind: "unsupported_agent",
      agent: "nonesuch",
    });
    await expectProblem(agentd.getAgentModes("nonesuch"), { status: 400, kind: "unsupported_agent" });
  });

  it("errors: 401 token_invalid, 422 validation", async () => {
    const wrong = connect({ baseUrl: agentd.baseUrl, token: "wrong" });
    await expectProblem(wrong.listSessions(), { status: 401, kind: "token_invalid" });
    assert.equal((await wrong.health()).status, "ok", "health needs no token");

    await agentd.createSession("val-1", { agent: "mock" });
    const err = await expectProblem(agentd.replyPermission("val-1", "p", "maybe" as never), { status: 422 });
    assert.ok(err.errors && err.errors.length > 0, "422 lists the invalid fields");
  });

  it("streamEvents over a demo run: every event exactly once, in order, ending with the session", async () => {
    await agentd.createSession("demo-1", { agent: "mock" });
    const signal = AbortSignal.timeout(T);
    const stream = agentd.streamEvents("demo-1", { signal });
    await agentd.postMessage("demo-1", "demo");
    const events: UniversalEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === "turn.ended") await agentd.terminateSession("demo-1");
    }
    // The iterator ended by itself: the daemon closed the stream after session.ended.
    assert.equal(events.at(-1)?.type, "session.ended");
    assert.deepEqual(sequences(events), range(1, 69));
    assert.deepEqual(events, (await agentd.getEvents("demo-1")).events);
  });

  it("streamEvents resumes after a dropped connection with no gap or duplicate", async () => {
    await agentd.createSession("drop-1", { agent: "mock" });
    const dropping = droppingFetch("/events/sse", 10);
    const client = clientWith(dropping.fetch);
    const stream = client.streamEvents("drop-1", { signal: AbortSignal.timeout(T) });
    await agentd.postMessage("drop-1", "demo");
    const events: UniversalEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === "turn.ended") await agentd.terminateSession("drop-1");
    }
    assert.deepEqual(sequences(events), range(1, 69));
    assert.deepEqual(events, (await agentd.getEvents("drop-1")).events);
    const sse = dropping.requests.filter((r) => r.path.endsWith("/events/sse"));
    assert.ok(sse.length >= 2, "it reconnected");
    assert.equal(sse[0]!.lastEventId, null);
    assert.equal(sse[1]!.lastEventId, "10", "resumed after the last complete frame");
  });

  it("streamEvents resumes a replay cut mid-frame, then ends on 204", async () => {
    await agentd.createSession("replay-1", { agent: "mock" });
    await runUntil("replay-1", "markdown", (e) => e.type === "turn.ended");
    await agentd.terminateSession("replay-1");
    const stored = (await agentd.getEvents("replay-1")).events;

    const dropping = droppingFetch("/events/sse", 4);
    const events = await within(T, "the replay", collect(clientWith(dropping.fetch).streamEvents("replay-1")));
    assert.deepEqual(events, stored);
    assert.equal(dropping.requests[1]?.lastEventId, "4");

    // Nothing after the end: the daemon answers 204 and the stream is empty.
    const after = await within(T, "an empty stream", collect(agentd.streamEvents("replay-1", { offset: stored.at(-1)!.sequence })));
    assert.deepEqual(after, []);
    // From an offset: only what follows it.
    const tail = await within(T, "the tail", collect(agentd.streamEvents("replay-1", { offset: stored.length - 3 })));
    assert.deepEqual(tail, stored.slice(-3));
  });

  it("streamTurn ends at turn.ended", async () => {
    await agentd.createSession("turn-1", { agent: "mock" });
    const events = await collect(agentd.streamTurn("turn-1", "Reply with exactly the single word OK.", { signal: AbortSignal.timeout(T) }));
    assert.deepEqual(
      events.map((e) => e.type),
      ["turn.started", "item.started", "item.completed", "item.started", "item.delta", "item.completed", "turn.ended"],
    );
    assert.deepEqual(sequences(events), range(2, 8));

    // includeRaw, and a turn that pauses at agent.unparsed.
    const raw = await collect(agentd.streamTurn("turn-1", { message: "unparsed" }, { includeRaw: true, signal: AbortSignal.timeout(T) }));
    assert.equal(raw.at(-1)?.type, "agent.unparsed");
    assert.deepEqual(raw.at(-1)?.raw, { raw: "mock" });
  });

  it("streamTurn continues from the event log after a dropped connection, sending the message once", async () => {
    await agentd.createSession("turn-drop-1", { agent: "mock" });
    const dropping = droppingFetch("/messages/stream", 3);
    const events = await collect(
      clientWith(dropping.fetch).streamTurn("turn-drop-1", "markdown", { signal: AbortSignal.timeout(T) }),
    );
    assert.equal(events.at(-1)?.type, "turn.ended");
    assert.deepEqual(sequences(events), range(2, 15));
    assert.deepEqual(events, (await agentd.getEvents("turn-drop-1", { offset: 1 })).events);
    assert.equal(dropping.requests.filter((r) => r.path.endsWith("/messages/stream")).length, 1, "sent once");
    const resumed = dropping.requests.find((r) => r.path.endsWith("/events/sse"));
    assert.equal(resumed?.lastEventId, "4");
  });

  it("an AbortSignal stops a stream with an AbortError", async () => {
    await agentd.createSession("abort-1", { agent: "mock" });
    const ac = new AbortController();
    const seen: UniversalEvent[] = [];
    const err = await within(
      T,
      "the aborted stream",
      (async () => {
        for await (const ev of agentd.streamEvents("abort-1", { signal: ac.signal })) {
          seen.push(ev);
          ac.abort();
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof Error && err.name === "AbortError", `got ${String(err)}`);
    assert.deepEqual(sequences(seen), [1]);

    // Already aborted: fails before any request.
    await assert.rejects(collect(agentd.streamEvents("abort-1", { signal: AbortSignal.abort() })), { name: "AbortError" });
    // Per-call signals on plain methods too.
    await assert.rejects(agentd.listSessions({ signal: AbortSignal.abort() }), { name: "AbortError" });
  });

  it("breaking out of the loop closes the stream", async () => {
    await agentd.createSession("break-1", { agent: "mock" });
    let count = 0;
    for await (const ev of agentd.streamEvents("break-1", { signal: AbortSignal.timeout(T) })) {
      assert.equal(ev.sequence, 1);
      count++;
      break;
    }
    assert.equal(count, 1);
  });

  it("a silent connection is treated as dropped after idleTimeoutMs", async () => {
    await agentd.createSession("idle-1", { agent: "mock" });
    let calls = 0;
    // The first events request gets a 200 whose body never sends a byte.
    const silentFirst: FetchLike = async (req) => {
      if (new URL(req.url).pathname.endsWith("/events/sse") && calls++ === 0) {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            if (req.signal.aborted) controller.error(req.signal.reason);
            else req.signal.addEventListener("abort", () => controller.error(req.signal.reason), { once: true });
          },
        });
        return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
      }
      return fetch(req);
    };
    const events = await collect(
      clientWith(silentFirst).streamEvents("idle-1", { idleTimeoutMs: 1000, signal: AbortSignal.timeout(T) }),
      (e) => e.sequence === 1,
    );
    assert.deepEqual(sequences(events), [1]);
    assert.ok(calls >= 2, "the silent connection was given up and the stream reconnected");
  });

  it("idleTimeoutMs also frees a connection whose fetch ignores aborts", async () => {
    await agentd.createSession("idle-2", { agent: "mock" });
    let calls = 0;
    const deaf: FetchLike = async (req) => {
      if (new URL(req.url).pathname.endsWith("/events/sse") && calls++ === 0) {
        return new Response(new ReadableStream<Uint8Array>(), { status: 200, headers: { "content-type": "text/event-stream" } });
      }
      return fetch(req);
    };
    const events = await collect(
      clientWith(deaf).streamEvents("idle-2", { idleTimeoutMs: 1000, signal: AbortSignal.timeout(T) }),
      (e) => e.sequence === 1,
    );
    assert.deepEqual(sequences(events), [1]);
    assert.ok(calls >= 2);
  });

  it("a stream left open after session.ended is re-checked, and ends on 204", async () => {
    await agentd.createSession("probe-1", { agent: "mock" });
    await agentd.terminateSession("probe-1");
    const seen: (string | null)[] = [];
    // The first connection passes the events through but never closes.
    const neverCloses: FetchLike = async (req) => {
      if (!new URL(req.url).pathname.endsWith("/events/sse")) return fetch(req);
      seen.push(req.headers.get("last-event-id"));
      const res = await fetch(req);
      if (seen.length > 1 || !res.body) return res;
      const reader = res.body.getReader();
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(c) {
            const { done, value } = await reader.read();
            if (!done) return c.enqueue(value);
            await new Promise((_, reject) =>
              req.signal.addEventListener("abort", () => reject(req.signal.reason), { once: true }),
            ).catch((e: unknown) => c.error(e));
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const events = await collect(clientWith(neverCloses).streamEvents("probe-1", { signal: AbortSignal.timeout(T) }));
    assert.deepEqual(
      events.map((e) => e.type),
      ["session.started", "session.ended"],
    );
    assert.deepEqual(seen, [null, "2"], "one reconnect, after the last event, answered 204");
  });

  it("gives up after retry.maxAttempts when the daemon cannot be reached again", async () => {
    await agentd.createSession("gone-1", { agent: "mock" });
    let calls = 0;
    const failAfterFirst: FetchLike = async (req) => {
      if (calls++ === 0) {
        const res = await fetch(req);
        const reader = res.body!.getReader();
        const first = await reader.read(); // the first frame, then a reset
        await reader.cancel();
        let sent = false;
        const body = new ReadableStream<Uint8Array>(
          {
            pull(c) {
              if (sent || !first.value) return c.error(new TypeError("reset"));
              sent = true;
              c.enqueue(first.value);
            },
          },
          { highWaterMark: 0 },
        );
        return new Response(body, { status: 200, headers: res.headers });
      }
      throw new TypeError("fetch failed (test: daemon unreachable)");
    };
    const seen: UniversalEvent[] = [];
    const err = await (async () => {
      for await (const ev of clientWith(failAfterFirst).streamEvents("gone-1", {
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
        signal: AbortSignal.timeout(T),
      })) {
        seen.push(ev);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TypeError, `got ${String(err)}`);
    assert.match((err as Error).message, /unreachable/);
    assert.deepEqual(sequences(seen), [1]);
    assert.equal(calls, 3, "one connection, then two failed reconnects");

    // retry:false turns resumption off: the drop itself is the error.
    calls = 0;
    await assert.rejects(
      collect(clientWith(failAfterFirst).streamEvents("gone-1", { retry: false, signal: AbortSignal.timeout(T) })),
      TypeError,
    );
    assert.equal(calls, 1);
  });

  it("streamTurn never re-sends: a drop before the first event is a StreamError", async () => {
    await agentd.createSession("turn-early-1", { agent: "mock" });
    // The POST goes through, but its response body fails before any frame.
    const failingBody: FetchLike = async (req) => {
      const res = await fetch(req);
      if (!new URL(req.url).pathname.endsWith("/messages/stream")) return res;
      await res.body?.cancel();
      const body = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new TypeError("reset")) }, { highWaterMark: 0 });
      return new Response(body, { status: 200, headers: res.headers });
    };
    const err = await collect(clientWith(failingBody).streamTurn("turn-early-1", "help", { signal: AbortSignal.timeout(T) })).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StreamError, `got ${String(err)}`);
    assert.equal(err.retryable, false);
    const started = (await agentd.getEvents("turn-early-1")).events.filter((e) => e.type === "turn.started");
    assert.equal(started.length, 1, "the message was sent exactly once");
  });

  it("raw SSE responses and the reference SDK's names", async () => {
    const sa = await SandboxAgent.connect({ baseUrl: agentd.baseUrl, token: agentd.token });
    assert.equal((await sa.getHealth()).status, "ok");
    await sa.createSession("compat-1", { agent: "mock" });
    const turn = await sa.postMessageStream("compat-1", { message: "help" });
    assert.equal(turn.headers.get("content-type")?.split(";")[0], "text/event-stream");
    await turn.body?.cancel();
    const res = await sa.getEventsSse("compat-1", { offset: 0 });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // The reference's streamEvents(sessionId, query, signal) signature.
    const first = await collect(sa.streamEvents("compat-1", { offset: 0 }, AbortSignal.timeout(T)), () => true);
    assert.equal(first[0]?.type, "session.started");
    await sa.dispose();
  });
});
