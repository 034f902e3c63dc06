// Checks that every code block marked `<!-- snippet: PATH -->` in the given
// Markdown files is a verbatim excerpt of PATH (relative to the repository
// root), so the guides show the examples' code rather than copies that drift.
//
//   node examples/shared/snippets.mjs docs/guides/e2b.md docs/guides/daytona.md

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const marked = /<!-- snippet: (\S+) -->\n```[a-z]*\n([\s\S]*?)```/g;
let failures = 0;
let checked = 0;
for (const doc of process.argv.slice(2)) {
  const text = readFileSync(join(root, doc), "utf8");
  for (const [, source, block] of text.matchAll(marked)) {
    checked++;
    if (!readFileSync(join(root, source), "utf8").includes(block)) {
      failures++;
      console.error(`${doc}: a snippet marked as from ${source} is not in it:\n${block}`);
    }
  }
}
if (checked === 0) {
  console.error("snippets.mjs: no marked snippets found");
  process.exit(1);
}
console.log(`snippets: ${checked} checked, ${failures} differ`);
process.exit(failures ? 1 : 0);
