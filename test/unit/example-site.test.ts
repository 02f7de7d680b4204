/** The config `npm start` serves (examples/site.conf) stays valid. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";

void test("examples/site.conf passes `narwhal -t`", () => {
  const root = repoRoot();
  const r = spawnSync(
    process.execPath,
    [join(root, "bin/narwhal"), "-t", "-p", ".", "-c", "site.conf"],
    {
      cwd: join(root, "examples"),
      encoding: "utf8",
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /site\.conf test is successful/);
});
