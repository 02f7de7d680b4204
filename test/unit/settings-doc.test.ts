import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderSettingsDoc } from "../../scripts/settings-doc.js";

test("docs/settings.md is generated from the settings table (run `npm run docs`)", () => {
  const onDisk = readFileSync(new URL("../../../docs/settings.md", import.meta.url), "utf8");
  assert.equal(onDisk, renderSettingsDoc());
});
