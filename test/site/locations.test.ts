// nginx's location precedence, made visible the way nginx-tests does it: every
// location answers 204 with `X-Location: NAME`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { get, startSite, type RunningSite } from "./harness.js";

const L = (name: string): string => `{ add_header X-Location ${name} always; return 204; }`;

const CONF = `
server {
  listen 127.0.0.1:PORT;
  server_name localhost;
  location = / ${L("exact-root")}
  location / ${L("root")}
  location = /foo ${L("exact-foo")}
  location ^~ /images/ ${L("images-noregex")}
  location ~* \\.(gif|jpg|jpeg)$ ${L("regex-images")}
  location ~ casefull ${L("regex-casefull")}
  location /long ${L("long")}
  location /longest ${L("longest")}
  location ^~ /pic ${L("pic-noregex")}
  location /pictures/ ${L("pictures")}
  location /nested/ {
    add_header X-Location nested always;
    return 204;
    location ~ \\.txt$ ${L("nested-regex")}
    location /nested/deeper/ ${L("nested-deeper")}
    location ^~ /nested/plain/ ${L("nested-plain-noregex")}
  }
  location ~ ^/first ${L("regex-first")}
  location ~ ^/firstly ${L("regex-second")}
  location @named ${L("named")}
  location /internal/ { internal; add_header X-Location internal always; return 204; }
}
`;

// [uri, expected X-Location, why]
const TABLE: Array<[string, string | null, string]> = [
  ["/", "exact-root", "= wins over the / prefix"],
  ["/index.html", "root", "only / matches"],
  ["/foo", "exact-foo", "= on /foo"],
  ["/foo/", "root", "= is exact: /foo/ is not /foo"],
  ["/images/a.gif", "images-noregex", "^~ on the longest prefix skips regexes"],
  ["/a.gif", "regex-images", "a regex beats the / prefix"],
  ["/a.JPG", "regex-images", "~* is caseless"],
  ["/casefull/x", "regex-casefull", "~ matches anywhere"],
  ["/CASEFULL/x", "root", "~ is case-sensitive"],
  ["/casefull/a.gif", "regex-images", "regexes in config order: the first match wins"],
  ["/long", "long", "prefix equal to the URI"],
  ["/longest/x", "longest", "the longest prefix wins"],
  ["/longer", "long", "/longest does not match /longer"],
  ["/pictures/a.gif", "regex-images", "^~ /pic is not the longest prefix: regexes still run"],
  ["/pic/a.gif", "pic-noregex", "^~ /pic is the longest"],
  ["/nested/x", "nested", "a prefix with nested locations"],
  ["/nested/a.txt", "nested-regex", "a nested regex"],
  ["/nested/deeper/x", "nested-deeper", "nested longest prefix"],
  ["/nested/deeper/a.txt", "nested-regex", "the parent level's regexes after a nested prefix"],
  ["/nested/plain/a.txt", "nested-plain-noregex", "^~ on a nested prefix skips the nested regexes"],
  // nginx's quirk (ngx_http_core_find_location): a nested ^~ does not stop the outer level's regexes.
  ["/nested/plain/a.gif", "regex-images", "a nested ^~ skips only its own level's regexes"],
  ["/firstly", "regex-first", "first regex in file order"],
  ["/@named", "root", "named locations are not reachable from outside"],
];

void describe("location precedence (nginx's order)", () => {
  let site: RunningSite;
  before(async () => {
    site = await startSite(CONF);
  });
  after(async () => site.stop());

  for (const [uri, want, why] of TABLE) {
    void it(`${uri} → ${want ?? "none"} (${why})`, async () => {
      const r = await get(site.port, uri);
      assert.equal(r.status, 204);
      assert.equal(r.header("x-location"), want);
    });
  }

  void it("an internal location answers 404 to a client (its `always` headers apply, as in nginx)", async () => {
    const r = await get(site.port, "/internal/x");
    assert.equal(r.status, 404);
    assert.equal(r.header("x-location"), "internal");
    assert.match(r.text, /<title>404 Not Found<\/title>/);
  });
});
