// Removes build output directories: node scripts/clean.mjs dist dist-test
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
for (const dir of process.argv.slice(2)) rmSync(new URL(dir, `file://${root}/`), { recursive: true, force: true });
