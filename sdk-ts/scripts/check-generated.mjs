// Drift check: regenerates the OpenAPI types into a temporary file with the
// same pinned openapi-typescript and compares it with the committed
// src/generated/openapi.ts. Exits 1 (and shows the first differences) when
// they differ: run `npm run generate` and commit the result.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const spec = join(root, "..", "docs", "openapi.json");
const committed = join(root, "src", "generated", "openapi.ts");

const require = createRequire(import.meta.url);
const pkgJson = require.resolve("openapi-typescript/package.json");
const cli = join(dirname(pkgJson), require(pkgJson).bin["openapi-typescript"]);

const dir = mkdtempSync(join(tmpdir(), "agentd-sdk-gen-"));
try {
  const fresh = join(dir, "openapi.ts");
  const run = spawnSync(process.execPath, [cli, spec, "--output", fresh], { cwd: root, encoding: "utf8" });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error("check:generated: openapi-typescript failed");
    process.exit(2);
  }
  const want = readFileSync(fresh, "utf8");
  let have;
  try {
    have = readFileSync(committed, "utf8");
  } catch {
    console.error(`check:generated: ${committed} is missing; run \`npm run generate\``);
    process.exit(1);
  }
  if (want === have) {
    console.log("check:generated: src/generated/openapi.ts matches docs/openapi.json");
    process.exit(0);
  }
  const a = have.split("\n");
  const b = want.split("\n");
  let shown = 0;
  for (let i = 0; i < Math.max(a.length, b.length) && shown < 20; i++) {
    if (a[i] !== b[i]) {
      console.error(`line ${i + 1}:\n  committed:   ${a[i] ?? "<end of file>"}\n  regenerated: ${b[i] ?? "<end of file>"}`);
      shown++;
    }
  }
  console.error("check:generated: src/generated/openapi.ts is out of date with docs/openapi.json; run `npm run generate` and commit it");
  process.exit(1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
