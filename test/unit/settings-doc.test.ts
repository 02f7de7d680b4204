import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { renderSettingsDoc } from "../../scripts/settings-doc.js";

void test("docs/settings.md is generated from the settings table (run `npm run docs`)", () => {
  const onDisk = readFileSync(join(repoRoot(), "docs/settings.md"), "utf8");
  assert.equal(onDisk, renderSettingsDoc());
});
