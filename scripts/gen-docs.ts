/** Regenerates the docs that are derived from declaration tables. */
import { writeFileSync } from "node:fs";
import { renderSettingsDoc } from "./settings-doc.js";

writeFileSync(new URL("../../docs/settings.md", import.meta.url), renderSettingsDoc());
console.log("wrote docs/settings.md");
