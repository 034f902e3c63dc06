// Builds the inspector into ../dist, the folder the Go package embeds.
// The output is committed, so it must be byte-for-byte reproducible:
// fixed file names (no content hashes), no timestamps, no source maps.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../dist");
const budget = 300 * 1024;

// The SDK is imported from its sources in sdk-ts/. Its one dependency must
// come from this package's node_modules, so the bundle does not depend on
// whether (or at which version) sdk-ts/node_modules happens to be installed.
const ownDeps = {
  name: "own-deps",
  setup(b) {
    b.onResolve({ filter: /^openapi-fetch$/ }, () => ({
      path: resolve(here, "node_modules/openapi-fetch/dist/index.mjs"),
    }));
  },
};

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src/main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  outdir: out,
  plugins: [ownDeps],
  logLevel: "warning",
});
await writeFile(join(out, "index.html"), await readFile(join(here, "src/index.html")));

let total = 0;
for (const name of ["index.html", "app.js", "app.css"]) {
  const body = await readFile(join(out, name));
  const gz = gzipSync(body, { level: 9 }).length;
  total += gz;
  console.log(`${name.padEnd(10)} ${String(body.length).padStart(8)} B  ${String(gz).padStart(7)} B gzipped`);
}
console.log(`total gzipped: ${(total / 1024).toFixed(1)} kB (budget ${budget / 1024} kB)`);
if (total > budget) {
  console.error("the inspector is over its size budget");
  process.exit(1);
}
