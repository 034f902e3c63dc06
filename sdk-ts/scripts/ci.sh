#!/usr/bin/env bash
# CI for the TypeScript SDK: the locked dependencies, the generated types
# checked against docs/openapi.json, the ESM + CJS build, then the tests
# against a real agentd — built from this repository with `go build`
# (so Go must be on PATH), or the binary named by $AGENTD_BIN; last, the
# release's npm packages, packed and installed offline, prove that start()
# finds agentd in its platform package (install/npm-packages-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci
npm run check:generated
npm run build
npm test
../install/npm-packages-test.sh
