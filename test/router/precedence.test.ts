/**
 * The location precedence table: every nginx rule, through the real config loader and
 * the compiled tree. Each location of test/fixtures/config/precedence.conf names itself
 * with `add_header X-Location ...` (a later test serves the same file over sockets).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import {
  findNamedLocation,
  loadNginxConfig,
  matchLocation,
  type Location,
} from "../../src/config/nginx/index.js";

const config = loadNginxConfig(join(repoRoot(), "test/fixtures/config/precedence.conf"));
const router = config.servers[0]!.router;

function label(loc: Location): string {
  const h = loc.conf.add_header.find((x) => x.name === "X-Location");
  return h ? h.value.source : `<${loc.name}>`;
}

const TABLE: ReadonlyArray<readonly [uri: string, expected: string | null, why: string]> = [
  ["/", "exact-root", "= wins over the prefix /"],
  ["/index.html", "root", "only the / prefix matches"],
  ["/images/a.gif", "images-noregex", "^~ on the longest prefix skips regexes"],
  ["/images/a.png", "images-noregex", "^~ skips every regex"],
  ["/img/a.gif", "regex-caseless", "regex beats the / prefix"],
  ["/img/A.JPG", "regex-caseless", "~* is case-insensitive"],
  ["/img/a.png", "regex-png", "~ matches"],
  ["/img/a.PNG", "root", "~ is case-sensitive: falls back to the longest prefix"],
  ["/documents/a.gif", "regex-caseless", "a regex beats a longer plain prefix"],
  ["/documents/x", "documents", "longest prefix"],
  ["/documents/long/x", "documents-long", "the longer of two prefixes"],
  ["/documents/longer", "documents", "a prefix is compared byte by byte"],
  ["/order/b", "regex-first", "regexes in config order: the first match wins"],
  ["/nested/x", "nested", "the prefix with nested locations"],
  ["/nested/a.txt", "nested-txt", "a nested regex"],
  ["/nested/deep/x", "nested-deep", "a nested prefix"],
  ["/nested/deep/a.txt", "nested-txt", "nested regexes are tried after a nested prefix"],
  ["/nested/noregex/a.txt", "nested-noregex", "^~ on a nested prefix skips the nested regexes"],
  [
    "/nested/noregex/a.gif",
    "regex-caseless",
    "... but not the outer level's (nginx's own behaviour)",
  ],
  ["/nested/exact", "nested-exact", "= inside a prefix location"],
  ["/nested/exact/x", "nested", "= needs the whole URI"],
  ["/top-noregex/a.gif", "top-noregex", "^~ at the top skips top-level regexes"],
  ["/top-noregex/a.txt", "top-noregex-txt", "... but its nested regexes still apply"],
  ["/re/x", "re", "a regex location"],
  ["/re/a.txt", "re-txt", "a regex nested in a regex"],
  ["/both", "both-exact", "= and a prefix with the same name: = for the exact URI"],
  ["/both/x", "both-prefix", "... and the prefix for longer URIs"],
  ["/bothx", "both-prefix", "prefix without a slash boundary"],
  ["/proxy/x", "</proxy/>", "a proxy location"],
  ["@named", null, "named locations are not reachable by URI"],
  ["/@named", "root", "not even with a slash"],
  ["relative", null, "nothing matches a URI without a leading slash"],
];

for (const [uri, expected, why] of TABLE) {
  void test(`location for ${uri}: ${expected ?? "none"} (${why})`, () => {
    const m = matchLocation(router, uri);
    assert.equal(m === null ? null : label(m.location), expected);
    if (m) assert.equal(m.redirect, false);
  });
}

void test("auto redirect: /proxy (no slash) with `location /proxy/ { proxy_pass ...; }` → redirect", () => {
  const m = matchLocation(router, "/proxy");
  assert.ok(m);
  assert.equal(m.redirect, true);
  assert.equal(m.location.name, "/proxy/");
});

void test("regex captures: numbered and named, for $1..$9 and $name", () => {
  const m = matchLocation(router, "/cap/abc/42");
  assert.ok(m);
  assert.equal(label(m.location), "cap-$first-$2");
  assert.deepEqual(m.captures.numbered, ["/cap/abc/42", "abc", "42"]);
  assert.deepEqual({ ...m.captures.named }, { first: "abc" });
  assert.deepEqual(matchLocation(router, "/documents/x")!.captures.numbered, []);
});

void test("named locations are found only by name", () => {
  const named = findNamedLocation(router, "@named");
  assert.ok(named);
  assert.equal(label(named), "named");
  assert.equal(findNamedLocation(router, "@missing"), null);
  assert.equal(findNamedLocation(router, "/"), null);
});

void test("every location has `add_header X-Location` and `return 204` for the socket-level test", () => {
  const loc = matchLocation(router, "/img/a.gif")!.location;
  assert.deepEqual(
    loc.script.map((s) => (s.kind === "return" ? s.code : s.kind)),
    [204],
  );
  assert.equal(loc.conf.add_header[0]!.always, false);
});
