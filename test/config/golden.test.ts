/**
 * Golden config tests: every directory in test/fixtures/config/ holds `main.conf` (and
 * any files it includes) plus either `expected.json` (the normalised model, see
 * summary.ts) or `expected-error.txt` (the exact message, FILE relative to the case
 * directory). `UPDATE_GOLDEN=1` rewrites expected.json files (review the diff!).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { ConfigError } from "../../src/core/errors.js";
import { loadNginxConfig } from "../../src/config/nginx/index.js";
import { httpDefaults } from "../../src/config/nginx/merge.js";
import { summarize } from "./summary.js";

const ROOT = join(repoRoot(), "test", "fixtures", "config");
const cases = readdirSync(ROOT)
  .filter((d) => existsSync(join(ROOT, d, "main.conf")))
  .sort();

void test("there are at least 25 golden config cases, errors and models both", () => {
  assert.ok(cases.length >= 25, `only ${cases.length} cases`);
  assert.ok(cases.filter((c) => existsSync(join(ROOT, c, "expected-error.txt"))).length >= 15);
  assert.ok(cases.filter((c) => existsSync(join(ROOT, c, "expected.json"))).length >= 8);
});

for (const name of cases) {
  const dir = join(ROOT, name);
  const errFile = join(dir, "expected-error.txt");
  const jsonFile = join(dir, "expected.json");
  const gFile = join(dir, "globals.txt");
  const globals = existsSync(gFile) ? readFileSync(gFile, "utf8").trim() : undefined;
  const opts = globals ? { globalDirectives: globals } : {};
  void test(`golden: ${name}`, () => {
    if (existsSync(errFile)) {
      const want = readFileSync(errFile, "utf8").trim();
      assert.throws(
        () => loadNginxConfig(join(dir, "main.conf"), opts),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
          assert.equal(err.message.split(dir + "/").join(""), want);
          return true;
        },
      );
      return;
    }
    const got = summarize(loadNginxConfig(join(dir, "main.conf"), opts), httpDefaults(dir), dir);
    if (process.env["UPDATE_GOLDEN"] === "1") {
      writeFileSync(jsonFile, JSON.stringify(got, null, 2) + "\n");
    }
    assert.deepEqual(got, JSON.parse(readFileSync(jsonFile, "utf8")));
  });
}
