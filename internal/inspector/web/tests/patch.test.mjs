import assert from "node:assert/strict";
import { test } from "node:test";

import { importTs } from "./helpers.mjs";

const { splitPatch } = await importTs("src/patch.ts");

test("splits a patch into each file's hunks", () => {
  const patch = [
    "diff --git a/a.txt b/a.txt",
    "index 1111111..2222222 100644",
    "--- a/a.txt",
    "+++ b/a.txt",
    "@@ -1,3 +1,3 @@",
    " one",
    "-two",
    "+2",
    "diff --git a/gone.txt b/gone.txt",
    "deleted file mode 100644",
    "--- a/gone.txt",
    "+++ /dev/null",
    "@@ -1 +0,0 @@",
    "-bye",
    'diff --git "a/t\\303\\251st.txt" "b/t\\303\\251st.txt"',
    "new file mode 100644",
    "--- /dev/null",
    '+++ "b/t\\303\\251st.txt"',
    "@@ -0,0 +1 @@",
    "+hi",
    "diff --git a/old name.bin b/new name.bin",
    "similarity index 100%",
    "rename from old name.bin",
    "rename to new name.bin",
    "",
  ].join("\n");
  const got = splitPatch(patch);
  assert.deepEqual([...got.keys()], ["a.txt", "gone.txt", "tést.txt", "new name.bin"]);
  assert.equal(got.get("a.txt"), "@@ -1,3 +1,3 @@\n one\n-two\n+2\n");
  assert.equal(got.get("gone.txt"), "@@ -1 +0,0 @@\n-bye\n");
  assert.equal(got.get("tést.txt"), "@@ -0,0 +1 @@\n+hi\n");
  assert.equal(got.get("new name.bin"), "");
});

test("an empty patch has no files", () => {
  assert.equal(splitPatch("").size, 0);
});
