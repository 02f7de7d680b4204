/** Virtual server selection as nginx (server_names.html), as a table. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import {
  findListenGroup,
  loadNginxConfig,
  normalizeHost,
  selectServer,
} from "../../src/config/nginx/index.js";

const config = loadNginxConfig(join(repoRoot(), "test/fixtures/config/server-names.conf"));
const group = (key: string) => config.listenGroups.find((g) => g.key === key)!;
const nameOf = (key: string, host: string) =>
  selectServer(group(key), host).server.serverNameText[0];

const TABLE: ReadonlyArray<readonly [host: string, expected: string, why: string]> = [
  ["example.com", "example.com", "exact"],
  ["www.example.com", "example.com", "exact beats *.example.com"],
  ["a.example.com", "*.example.com", "leading wildcard"],
  ["a.b.example.com", "*.example.com", "a leading wildcard matches several labels"],
  ["x.api.example.com", "*.api.example.com", "the longest leading wildcard"],
  ["mail.foo", "mail.*", "trailing wildcard"],
  ["mail.example.net", "mail.example.*", "the longest trailing wildcard"],
  ["mail.example.com", "*.example.com", "leading wildcards before trailing ones"],
  ["example.org", ".example.org", ".example.org is example.org ..."],
  ["x.example.org", ".example.org", "... and *.example.org"],
  ["bob.users.test", "~^(?<user>[a-z]+)\\.users\\.test$", "regex"],
  ["www7.test", "~^(?<user>[a-z]+)\\.users\\.test$", "second regex of the same server"],
  ["www.other", "~^www", "first matching regex in config order"],
  ["unknown.test", "default.test", "no match: the default_server"],
  ["", "", 'no Host: server_name ""'],
  ["FIRST", "first", "names compare case-insensitively"],
];

for (const [host, expected, why] of TABLE) {
  void test(`server for Host ${JSON.stringify(host)}: ${expected} (${why})`, () => {
    assert.equal(nameOf("0.0.0.0:8080", host), expected);
  });
}

void test("regex server names expose their captures", () => {
  const c = selectServer(group("0.0.0.0:8080"), "bob.users.test").captures;
  assert.equal(c.named["user"], "bob");
  assert.deepEqual(selectServer(group("0.0.0.0:8080"), "www42.test").captures.numbered, [
    "www42.test",
    "42",
  ]);
});

void test("without default_server the first server of the socket is the default", () => {
  assert.equal(nameOf("0.0.0.0:8082", "nothing"), "no-default-a");
  assert.equal(nameOf("0.0.0.0:8082", "no-default-b"), "no-default-b");
});

void test("a specific address has its own servers; the wildcard socket serves the rest", () => {
  assert.equal(findListenGroup(config.listenGroups, "127.0.0.1", 8081)?.key, "127.0.0.1:8081");
  assert.equal(findListenGroup(config.listenGroups, "10.1.2.3", 8081)?.key, "0.0.0.0:8081");
  assert.equal(
    findListenGroup(config.listenGroups, "::ffff:127.0.0.1", 8081)?.key,
    "127.0.0.1:8081",
  );
  assert.equal(findListenGroup(config.listenGroups, "127.0.0.1", 9999), null);
  const v6only = loadNginxConfig(
    join(repoRoot(), "test/fixtures/config/ok-listen-forms/main.conf"),
  );
  assert.equal(findListenGroup(v6only.listenGroups, "::ffff:10.0.0.1", 8082)?.key, "[::]:8082");
  assert.equal(findListenGroup(v6only.listenGroups, "::1", 80)?.key, "[::1]:80");
  assert.equal(
    findListenGroup(v6only.listenGroups, "", null, "/tmp/narwhal-test.sock")?.key,
    "unix:/tmp/narwhal-test.sock",
  );
  assert.equal(nameOf("127.0.0.1:8081", "wild-8081"), "only-loopback");
});

void test("normalizeHost: port, case, trailing dot, IPv6, invalid", () => {
  assert.equal(normalizeHost("Example.COM:8080"), "example.com");
  assert.equal(normalizeHost("example.com."), "example.com");
  assert.equal(normalizeHost("[::1]:80"), "[::1]");
  assert.equal(normalizeHost(""), "");
  assert.equal(normalizeHost("a/b"), null);
  assert.equal(normalizeHost("../x"), null);
  assert.equal(normalizeHost("a..b"), null);
  assert.equal(normalizeHost("host:abc"), null);
});
