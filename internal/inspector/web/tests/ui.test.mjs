// The inspector in a real browser against a real daemon with the mock agent.
// Every wait is on something observable (a DOM state or an event on the
// daemon's stream), with generous deadlines for a loaded machine.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";

import { agentdBinary, artifacts, browserSkipReason, startBrowser, startDaemon, startHeldRegistry, startProxy, webDir } from "./helpers.mjs";

const WAIT = 60_000;
const execFileP = promisify(execFile);
const skip = browserSkipReason();

describe("inspector", { skip: skip || false }, () => {
  let dir, work, daemon, browser, page, registry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inspector-ui-"));
    work = join(dir, "work");
    await mkdir(join(work, "src"), { recursive: true });
    await writeFile(join(work, "hello.txt"), "hello from the workspace\n");
    await writeFile(join(work, "src", "main.go"), "package main\n");
    await mkdir(artifacts, { recursive: true });
    registry = await startHeldRegistry();
    // Amp counts as not installed whatever this machine has cached, so the
    // install test always has an installable agent to click.
    daemon = await startDaemon(await agentdBinary(dir), dir, {
      env: { AGENTD_NPM_REGISTRY: registry.url, AGENTD_AMP_BIN: join(dir, "no-such-amp") },
    });
    browser = await startBrowser(dir);
    page = await browser.context.newPage();
    page.setDefaultTimeout(WAIT);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    registry?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = async (path, init) => {
    const r = await fetch(daemon.url + path, init);
    assert.ok(r.ok, `${path}: HTTP ${r.status}`);
    return r.status === 204 ? null : r.json();
  };
  const events = async (id) => (await api(`/v1/sessions/${id}/events`)).events;
  const shoot = async (name) => {
    for (const [size, viewport] of [
      ["laptop", { width: 1366, height: 850 }],
      ["phone", { width: 390, height: 844 }],
    ]) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: join(artifacts, `${name}-${size}.png`) });
    }
    await page.setViewportSize({ width: 1366, height: 850 });
  };
  const send = async (text) => {
    await page.fill("textarea[name=message]", text);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("textarea[name=message]")?.value === "");
  };
  /** Resolves with the first event of `type` after sequence `offset`, read from the daemon's stream. */
  const waitForEvent = async (id, offset, type) => {
    const r = await fetch(`${daemon.url}/v1/sessions/${id}/events/sse?offset=${offset}`, { signal: AbortSignal.timeout(WAIT) });
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream of ${id} ended before a ${type}`);
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = frame.split("\n").find((l) => l.startsWith("data:"));
          if (!data) continue;
          const ev = JSON.parse(data.slice(5));
          if (ev.type === type) return ev;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  };
  /** The sequences the Events tab lists, with every type shown. */
  const listedSequences = async (id) => {
    await page.goto(`${daemon.url}/ui/#/s/${id}/events`);
    const deltas = page.locator("button.chip", { hasText: "item.delta" });
    if ((await deltas.getAttribute("aria-pressed")) !== "true") await deltas.click();
    await page.waitForSelector("button.chip.on >> text=item.delta");
    return page.$$eval(".event-list li", (lis) => lis.map((li) => Number(li.dataset.seq)));
  };
  const assertExactlyOnce = async (id) => {
    const want = (await events(id)).map((e) => e.sequence);
    await page.goto(`${daemon.url}/ui/#/s/${id}/events`);
    await page.waitForSelector(`.tabs a >> text=Events · ${want.length}`);
    const got = await listedSequences(id);
    assert.deepEqual(got, want, "every event exactly once, in order");
    assert.deepEqual(want, want.map((_, i) => i + 1), "the daemon's sequences are 1..N");
  };

  test("the daemon serves this build", async () => {
    const served = await (await fetch(`${daemon.url}/ui/app.js`)).text();
    const built = await readFile(join(webDir, "../dist/app.js"), "utf8");
    assert.ok(served === built, "the agentd binary embeds another build of the inspector: rebuild it (go build ./cmd/agentd)");
  });

  test("home lists agents and an empty session list", async () => {
    await page.goto(`${daemon.url}/ui/`);
    await page.waitForSelector("[data-agent=mock] >> text=installed");
    await page.waitForSelector("text=No sessions yet.");
    await shoot("home-empty");
  });

  test("an install shows its progress, then why it failed", async () => {
    const row = page.locator("[data-agent=amp]");
    await row.locator("button:has-text('Install')").click();
    let timer;
    await Promise.race([
      registry.firstRequest,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the install never reached the registry")), WAIT);
      }),
    ]).finally(() => clearTimeout(timer));
    // The stream's first progress: asking the registry (which holds the request).
    await row.locator("[role=status][data-phase=resolving] >> text=installing · resolving").waitFor();
    assert.equal(await row.locator("[role=status] progress").count(), 1, "a progress bar");
    await shoot("home-installing");
    registry.release();
    await row.locator(".err").waitFor();
    await row.locator("button:has-text('Install')").waitFor();
  });

  test("creates a session and streams a reply", async () => {
    await page.fill("input[name=id]", "chat");
    await page.fill("input[name=directory]", work);
    await page.click("button:has-text('Create session')");
    await page.waitForURL(/#\/s\/chat$/);
    await send("hello inspector");
    await page.waitForSelector(".item.role-user >> text=hello inspector");
    await page.waitForSelector(".item.role-assistant.status-completed >> text=hello inspector");
    const info = (await api("/v1/sessions")).sessions.find((s) => s.sessionId === "chat");
    assert.equal(info.agent, "mock");
    assert.equal(info.directory, work);
  });

  test("shows a tool call, its result and the diffs", async () => {
    await send("tool");
    const result = page.locator(".item.kind-tool_result.status-failed");
    await result.waitFor();
    await page.waitForSelector(".item.kind-tool_call .tool-name >> text=mock.search");
    assert.match(await result.locator(".output").innerText(), /mock search results/);
    await result.locator(".diff .add >> text=+new").waitFor();
    await result.locator(".diff .del >> text=-old").waitFor();
    await shoot("conversation-tool");
  });

  test("answers permissions from the page", async () => {
    const before = (await events("chat")).length;
    await send("permission");
    const pending = page.locator(".permission.pending");
    await page.waitForFunction(() => document.querySelectorAll(".permission.pending").length === 2);
    await page.waitForSelector(".session-head >> text=2 waiting for you");
    await shoot("conversation-permission");
    await pending.first().locator("button:has-text('Allow once')").click();
    await page.waitForFunction(() => document.querySelectorAll(".permission.pending").length === 1);
    await pending.first().locator("button:has-text('Reject')").click();
    await page.waitForFunction(() => document.querySelectorAll(".permission.pending").length === 0);
    await page.waitForSelector(".session-head >> text=waiting for you", { state: "detached" });
    const resolved = (await events("chat")).slice(before).filter((e) => e.type === "permission.resolved");
    assert.deepEqual(resolved.map((e) => e.data.status), ["accept", "reject"]);
  });

  test("answers and declines questions from the page", async () => {
    const before = (await events("chat")).length;
    await send("question");
    await page.waitForFunction(() => document.querySelectorAll(".question.pending").length === 2);
    await page.locator(".question.pending").first().locator("button:has-text('Blue')").click();
    await page.waitForSelector(".question .answer >> text=Blue");
    await page.locator(".question.pending").first().locator("button:has-text('Decline')").click();
    await page.waitForFunction(() => document.querySelectorAll(".question.pending").length === 0);
    const resolved = (await events("chat")).slice(before).filter((e) => e.type === "question.resolved");
    assert.deepEqual(resolved.map((e) => [e.data.status, e.data.response]), [["answered", "Blue"], ["rejected", null]]);
  });

  test("a reload in the middle of a turn shows every event once", async () => {
    const start = (await events("chat")).length;
    const ended = waitForEvent("chat", start, "turn.ended");
    await send("demo");
    // Reload once the turn is well under way (the mock paces its events).
    await page.waitForFunction(() => document.querySelectorAll(".item.kind-status").length > 0);
    await page.reload();
    await page.waitForSelector(".item.role-user >> text=demo");
    await ended;
    await page.waitForSelector(".pill.busy >> text=working", { state: "detached" });
    const markers = await page.$$eval(".item.role-assistant .md", (ps) => ps.map((p) => p.textContent));
    assert.equal(new Set(markers).size, markers.length, `no message drawn twice: ${markers.join(" | ")}`);
    await shoot("conversation-demo");
    await assertExactlyOnce("chat");
  });

  test("resumes a dropped stream without duplicates or gaps", async () => {
    const proxy = await startProxy(daemon.url);
    try {
      await page.goto(`${proxy.url}/ui/#/s/chat/chat`);
      await page.waitForSelector(".item.role-user >> text=demo");
      const start = (await events("chat")).length;
      await page.waitForSelector(`.tabs a >> text=Events · ${start}`);
      const ended = waitForEvent("chat", start, "turn.ended");
      await api("/v1/sessions/chat/messages", { method: "POST", headers: { "content-type": "application/json" }, body: '{"message":"markdown"}' });
      // Cut the page's stream once the turn is under way; the mock plays on.
      await page.waitForSelector(".item.role-user >> text=markdown");
      assert.equal(proxy.cut(), 1, "the page had one open event stream");
      await ended;
      const total = (await events("chat")).length;
      await page.waitForSelector(`.tabs a >> text=Events · ${total}`);
      const resumedAt = proxy.resumes.slice(1).map(Number);
      assert.ok(resumedAt.length >= 1 && resumedAt.every((n) => n > start), `the page resumed with Last-Event-ID: ${proxy.resumes}`);
      await page.goto(`${proxy.url}/ui/#/s/chat/events`);
      await assertExactlyOnce("chat");
    } finally {
      proxy.close();
    }
  });

  test("the events view filters and shows native payloads", async () => {
    await listedSequences("chat");
    await page.fill("input[type=search]", "mock_error");
    await page.waitForFunction(() => document.querySelectorAll(".event-list li").length === 1);
    await page.fill("input[type=search]", "");
    await page.click(".ev.type-agent-unparsed .ev-row >> nth=0");
    await page.waitForSelector(".ev-body >> text=raw (native)");
    await shoot("events");
  });

  test("browses, views and downloads the workspace", async () => {
    await page.goto(`${daemon.url}/ui/#/s/chat/files`);
    await page.click(".fs-entry >> text=hello.txt");
    await page.waitForSelector(".file-view >> text=hello from the workspace");
    await shoot("files");
    await page.click(".fs-entry >> text=src");
    await page.waitForSelector(".fs-entry >> text=main.go");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("button:has-text('Download archive')")]);
    assert.match(download.suggestedFilename(), /\.tar\.gz$/);
  });

  test("shows the git changes of the session's directory", async () => {
    await page.goto(`${daemon.url}/ui/#/s/chat/changes`);
    await page.waitForSelector(".changes >> text=Not a git repository");
    await shoot("changes-not-git");

    const repo = join(dir, "repo");
    const git = (...args) => execFileP("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: repo });
    await mkdir(repo);
    await git("init", "-q");
    await writeFile(join(repo, "notes.md"), "# Notes\n\nfirst line\nsecond line\n");
    await git("add", "notes.md");
    await git("commit", "-q", "-m", "first");
    await writeFile(join(repo, "notes.md"), "# Notes\n\nfirst line\nsecond line, edited\nthird line\n");
    await writeFile(join(repo, "todo.txt"), "write tests\nship it\n");
    await api("/v1/sessions/changes", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agent: "mock", directory: repo }) });

    await page.goto(`${daemon.url}/ui/#/s/changes/changes`);
    const notes = page.locator("[data-change='notes.md']");
    const todo = page.locator("[data-change='todo.txt']");
    await notes.waitFor();
    assert.match(await notes.innerText(), /modified[\s\S]*\+2\s*−1/);
    assert.match(await todo.innerText(), /added[\s\S]*\+2\s*−0/);
    await page.waitForSelector("[data-change-diff='notes.md'] .diff .del >> text=-second line");
    await page.waitForSelector("[data-change-diff='notes.md'] .diff .add >> text=+second line, edited");
    await page.waitForSelector("[data-change-diff='todo.txt'] .diff .add >> text=+ship it");
    await page.waitForSelector("[data-change-diff='notes.md'] .diff .hunk");
    await shoot("changes");

    await git("add", "-A");
    await git("commit", "-q", "-m", "second");
    await page.click(".changes button:has-text('Refresh')");
    await page.waitForSelector(".changes >> text=No changes since the last commit.");
  });

  test("runs commands in a shell in the session's directory", async () => {
    await page.goto(`${daemon.url}/ui/#/s/chat/terminal`);
    await page.click("button:has-text('Open a shell')");
    await page.fill("input[name=command]", "pwd; echo inspector-$((40+2))");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".term >> text=/^inspector-42$/m");
    assert.ok((await page.locator(".term").innerText()).includes(work), "the shell starts in the session's directory");
    await shoot("terminal");
    await page.click(".term-input button:has-text('Close')");
    await page.waitForSelector("button:has-text('Open a shell')");
    assert.equal((await api("/v1/terminals")).terminals.filter((t) => t.status === "running").length, 0);
  });

  test("interrupts a turn and terminates the session", async () => {
    await page.goto(`${daemon.url}/ui/#/s/chat/chat`);
    await page.waitForSelector(".item.role-user >> text=demo");
    const start = (await events("chat")).length;
    const ended = waitForEvent("chat", start, "turn.ended");
    await send("demo");
    await page.click("button:has-text('Interrupt'):not([disabled])");
    const turn = await ended;
    assert.ok((await events("chat")).length < start + 40, "the interrupted demo stopped early");
    assert.equal(turn.data.metadata?.status, "interrupted");
    await page.waitForSelector(".ended-entry >> text=Turn interrupted");
    await page.click("button:has-text('Terminate')");
    await page.waitForSelector(".ended-entry >> text=terminated");
    await page.waitForSelector("textarea[name=message][disabled]");
    await shoot("conversation-ended");
    await page.goto(`${daemon.url}/ui/`);
    await page.waitForSelector("[data-session=chat] >> text=ended");
    await shoot("home");
  });
});

describe("inspector with a token", { skip: skip || false }, () => {
  let dir, daemon, browser, page;
  const token = "s3cret-token";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inspector-token-"));
    daemon = await startDaemon(await agentdBinary(dir), dir, { token });
    browser = await startBrowser(dir);
    page = await browser.context.newPage();
    page.setDefaultTimeout(WAIT);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("asks for the token when it has none", async () => {
    await page.goto(`${daemon.url}/ui/`);
    await page.waitForSelector(".connect .err >> text=token");
    await page.fill("input[name=token]", token);
    await page.click(".connect button[type=submit]");
    await page.waitForSelector("[data-agent=mock] >> text=installed");
  });

  test("takes the token from the fragment and clears it from the address", async () => {
    const fresh = await browser.context.newPage();
    await fresh.goto(`${daemon.url}/ui/#token=${token}`);
    await fresh.waitForSelector("[data-agent=mock] >> text=installed");
    assert.ok(!fresh.url().includes(token), `the token stayed in the address: ${fresh.url()}`);
    await fresh.close();
  });
});
