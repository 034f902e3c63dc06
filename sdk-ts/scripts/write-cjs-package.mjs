// dist/cjs holds CommonJS files in a "type": "module" package; this marker
// makes Node (and TypeScript) read them as CommonJS.
//
// It also gives the CommonJS embedded.js its own module URL: tsc copies
// `import.meta.url` into CommonJS output, where it is a syntax error.
import { readFileSync, writeFileSync } from "node:fs";

writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), JSON.stringify({ type: "commonjs" }, null, 2) + "\n");

const embedded = new URL("../dist/cjs/embedded.js", import.meta.url);
const source = readFileSync(embedded, "utf8");
const statement = "const moduleUrl = import.meta.url;";
const uses = source.split(statement).length - 1;
if (uses !== 1) {
  console.error(`write-cjs-package: expected \`${statement}\` once in dist/cjs/embedded.js, found it ${uses} times`);
  process.exit(1);
}
writeFileSync(embedded, source.replace(statement, 'const moduleUrl = require("node:url").pathToFileURL(__filename).href;'));
