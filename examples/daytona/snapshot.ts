// Builds a Daytona snapshot with agentd installed, so sandboxes start without
// downloading it (main.ts with DAYTONA_SNAPSHOT=agentd-v0.1.0). Run once per
// agentd version: `npx tsc -p . && node out/daytona/snapshot.js`.

import { Daytona, Image } from "@daytonaio/sdk";

const daytona = new Daytona();
const image = Image.debianSlim("3.12").runCommands(
  "apt-get update && apt-get install -y --no-install-recommends curl ca-certificates",
  "curl -fsSL https://github.com/agentd-dev/agentd/releases/latest/download/install.sh | AGENTD_VERSION=v0.1.0 sh",
);
await daytona.snapshot.create({ name: "agentd-v0.1.0", image }, { onLogs: console.log });
