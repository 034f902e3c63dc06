// dist/cjs holds CommonJS files in a "type": "module" package; this marker
// makes Node (and TypeScript) read them as CommonJS.
import { writeFileSync } from "node:fs";

writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), JSON.stringify({ type: "commonjs" }, null, 2) + "\n");
