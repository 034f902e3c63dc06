// `npm test` runs against the built package (dist/), as users get it. This
// stops a run against a stale build: every source must be older than dist.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = join(root, "dist", "esm", "index.js");
let builtAt;
try {
  builtAt = statSync(built).mtimeMs;
} catch {
  console.error("no build in dist/: run `npm run build` first");
  process.exit(1);
}
const newer = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (statSync(p).mtimeMs > builtAt) newer.push(p.slice(root.length));
  }
};
walk(join(root, "src"));
if (newer.length) {
  console.error(`dist/ is older than ${newer.join(", ")}: run \`npm run build\` first`);
  process.exit(1);
}
