/** Regenerates the docs that are derived from declaration tables (`npm run docs`). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../src/core/paths.js";
import { renderConfigDoc } from "./config-doc.js";
import { renderSettingsDoc } from "./settings-doc.js";

writeFileSync(join(repoRoot(), "docs/settings.md"), renderSettingsDoc());
console.log("wrote docs/settings.md");
writeFileSync(join(repoRoot(), "docs/config.md"), renderConfigDoc());
console.log("wrote docs/config.md");
