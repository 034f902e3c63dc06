// getSessionDiff against a real agentd: a session whose directory is a git
// work tree with a committed file, then a modified and a new file.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { start, type EmbeddedAgentd } from "agentd-sdk/embedded";

import { agentdBinary } from "./helpers.js";

let agentd: EmbeddedAgentd;
let dir: string;

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.error?.message ?? ""}${r.stderr}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "agentd-sdk-diff-"));
  agentd = await start({ binaryPath: agentdBinary() });
});

after(async () => {
  await agentd?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("getSessionDiff", { timeout: 60_000 }, () => {
  it("lists changed and new files with line counts, and the unified diff", async () => {
    const repo = join(dir, "repo");
    git(dir, "init", "-q", "repo");
    writeFileSync(join(repo, "a.txt"), "one\ntwo\nthree\n");
    git(repo, "add", "a.txt");
    git(repo, "commit", "-q", "-m", "first");
    writeFileSync(join(repo, "a.txt"), "one\n2\nthree\nfour\n");
    writeFileSync(join(repo, "new.txt"), "fresh\n");
    await agentd.createSession("diff-git", { agent: "mock", directory: repo });

    const diff = await agentd.getSessionDiff("diff-git");
    assert.equal(diff.repository, true);
    assert.equal(diff.truncated, false);
    const files = [...(diff.files ?? [])].sort((x, y) => x.path.localeCompare(y.path));
    assert.deepEqual(
      files.map((f) => [f.path, f.status, f.additions, f.deletions, f.binary]),
      [
        ["a.txt", "modified", 2, 1, false],
        ["new.txt", "added", 1, 0, false],
      ],
    );
    assert.ok(diff.patch?.includes("\n-two\n+2\n"), `patch shows the changed line:\n${diff.patch}`);
    assert.ok(diff.patch?.includes("+fresh"), "patch shows the new file");

    const listOnly = await agentd.getSessionDiff("diff-git", { patch: false });
    assert.equal(listOnly.patch ?? "", "");
    assert.deepEqual(listOnly.files, diff.files);
  });

  it("says when the directory is not a git work tree", async () => {
    await agentd.createSession("diff-plain", { agent: "mock", directory: dir });
    const diff = await agentd.getSessionDiff("diff-plain", {}, { signal: AbortSignal.timeout(30_000) });
    assert.equal(diff.repository, false);
    assert.deepEqual(diff.files ?? [], []);
  });
});
