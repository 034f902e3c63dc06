// The published shape: CommonJS works, and the browser entry's module graph
// reaches no Node built-in.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import * as esm from "agentd-sdk";

const require = createRequire(import.meta.url);

describe("package", () => {
  it("require('agentd-sdk') and require('agentd-sdk/embedded') work", () => {
    const cjs = require("agentd-sdk") as typeof esm;
    const cjsEmbedded = require("agentd-sdk/embedded") as typeof import("agentd-sdk/embedded");
    assert.equal(require.resolve("agentd-sdk").endsWith("/dist/cjs/index.js"), true);
    assert.equal(typeof cjs.connect, "function");
    assert.equal(typeof cjsEmbedded.start, "function");
    assert.equal(typeof cjsEmbedded.connect, "function");
    const err = new cjs.AgentdError({ type: "urn:sandbox-agent:error:session_not_found", title: "Session Not Found", status: 404, sessionId: "x" });
    assert.ok(err instanceof Error);
    assert.equal(err.kind, "session_not_found");
    assert.equal(err.sessionId, "x");
    const client = cjs.connect({ baseUrl: "http://127.0.0.1:1/" });
    assert.equal(client.baseUrl, "http://127.0.0.1:1");
  });

  it("the ESM exports match the CommonJS ones", () => {
    const cjs = require("agentd-sdk") as Record<string, unknown>;
    assert.deepEqual(Object.keys(esm).sort(), Object.keys(cjs).sort());
  });

  it("the browser entry imports no Node built-in (only web APIs)", () => {
    const entry = fileURLToPath(import.meta.resolve("agentd-sdk"));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, "utf8");
      assert.doesNotMatch(src, /\brequire\(/, `${file} uses require()`);
      for (const m of src.matchAll(/(?:\bimport|\bexport)\s[^'"]*?from\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s*["']([^"']+)["']/g)) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (builtins.has(spec) || spec.startsWith("node:")) offenders.push(`${file} imports ${spec}`);
        else if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
        else visit(fileURLToPath(import.meta.resolve(spec)));
      }
    };
    visit(entry);
    assert.deepEqual(offenders, []);
    assert.ok([...seen].some((f) => f.includes("openapi-fetch")), "openapi-fetch was followed too");
    assert.ok(![...seen].some((f) => f.endsWith("embedded.js")), "embedded mode is not reachable");
  });
});
