// The pipeline's Host memory answers exactly what normalizeHost + selectServer answer,
// for repeated values, invalid ones, a missing Host, and past its size bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { loadNginxConfig, normalizeHost, selectServer } from "../../src/config/nginx/index.js";
import { ServerChooser } from "../../src/site/server-choice.js";

const config = loadNginxConfig(join(repoRoot(), "test/fixtures/config/server-names.conf"));

const HOSTS = [
  "example.com",
  "WWW.Example.com:8080",
  "a.b.example.com",
  "mail.example.net.",
  "bob.users.test",
  "www7.test",
  "unknown.test",
  "",
  "bad/host",
  "a..b",
  "[::1]:80",
  "host:port",
];

void test("ServerChooser matches selectServer, repeatedly and past its bound", () => {
  const chooser = new ServerChooser();
  const many = [...HOSTS, ...Array.from({ length: 40 }, (_, i) => `h${i}.example.com`)];
  for (let round = 0; round < 3; round++) {
    for (const group of config.listenGroups) {
      for (const raw of [...many, null]) {
        const host = raw === null ? "" : normalizeHost(raw);
        const want = selectServer(group, host ?? "");
        const got = chooser.choose(group, raw);
        assert.equal(got.host, host, `host of ${String(raw)}`);
        assert.equal(got.choice.server, want.server, `server for ${String(raw)}`);
        assert.deepEqual(got.choice.captures, want.captures, `captures for ${String(raw)}`);
      }
    }
  }
});
