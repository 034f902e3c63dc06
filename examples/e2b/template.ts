// Builds an E2B template with agentd installed, so sandboxes start without
// downloading it (main.ts with E2B_TEMPLATE=agentd). Run once, and again to
// upgrade: `npx tsc -p . && node out/e2b/template.js`.

import { Template, defaultBuildLogger } from "e2b";

export const template = Template()
  .fromBaseImage()
  .setUser("root")
  .runCmd("curl -fsSL https://github.com/agentd-dev/agentd/releases/latest/download/install.sh | AGENTD_VERSION=v0.1.0 sh")
  .setUser("user");

await Template.build(template, "agentd", { onBuildLogs: defaultBuildLogger() });
