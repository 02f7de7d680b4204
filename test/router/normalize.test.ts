/**
 * URI normalisation table (nginx's ngx_http_parse_complex_uri semantics). Every
 * traversal attempt must either resolve inside "/" or be refused with 400.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { normalizeUri } from "../../src/router/normalize.js";

const MERGE = { mergeSlashes: true };
const KEEP = { mergeSlashes: false };

const TABLE: ReadonlyArray<
  readonly [raw: string, expected: string | 400, opts?: { mergeSlashes: boolean }]
> = [
  ["/", "/"],
  ["/a/b", "/a/b"],
  ["/a/b/", "/a/b/"],
  ["/static/../x", "/x"],
  ["/static/./x", "/static/x"],
  ["/a/b/..", "/a/"],
  ["/a/b/.", "/a/b/"],
  ["/a/..", "/"],
  ["/..", 400],
  ["/../etc/passwd", 400],
  ["/a/../../etc/passwd", 400],
  ["/static/../../etc/passwd", 400],
  // encoded dots and slashes take part in resolution exactly like literal ones
  ["/%2e%2e/etc/passwd", 400],
  ["/%2E%2E/etc/passwd", 400],
  ["/static/%2e%2e/x", "/x"],
  ["/static/%2e%2e/%2e%2e/etc/passwd", 400],
  ["/static/..%2f..%2fetc/passwd", 400],
  ["/static/..%2fx", "/x"],
  ["/static%2f..%2f..%2fetc", 400],
  ["/a%2Fb", "/a/b"],
  ["/.%2e/x", 400],
  ["/%2e/x", "/x"],
  // double encoding decodes once: "%252e" is the literal text "%2e", never a dot
  ["/%252e%252e/etc/passwd", "/%2e%2e/etc/passwd"],
  ["/static/%252e%252e%252fx", "/static/%2e%2e%2fx"],
  ["/100%25", "/100%"],
  // malformed escapes and NUL
  ["/%", 400],
  ["/%2", 400],
  ["/%zz", 400],
  ["/%g0", 400],
  ["/a%00b", 400],
  ["/a%00", 400],
  ["/a\u0000b", 400],
  // merge_slashes
  ["//a///b", "/a/b"],
  ["//a///b", "//a///b", KEEP],
  ["/a//..", "/a/", KEEP],
  ["/a//../b", "/a/b", KEEP],
  ["/a//../b", "/b", MERGE],
  // dots inside names are names
  ["/...", "/..."],
  ["/a/.hidden", "/a/.hidden"],
  ["/a..b/", "/a..b/"],
  // UTF-8
  ["/caf%C3%A9", "/café"],
  ["/caf\u00c3\u00a9", "/café"],
  ["/%ff", 400],
  // backslash is an ordinary byte on POSIX (the static handler refuses it separately)
  ["/a\\..\\b", "/a\\..\\b"],
  ["relative", 400],
  ["", 400],
];

for (const [raw, expected, opts] of TABLE) {
  void test(`normalizeUri(${JSON.stringify(raw)}) → ${expected}`, () => {
    const r = normalizeUri(raw, opts ?? MERGE);
    if (expected === 400) assert.equal("status" in r ? r.status : r.uri, 400);
    else assert.deepEqual(r, { uri: expected });
  });
}

void test("property: a normalised URI starts with / and has no . or .. segment", () => {
  const seg = fc.constantFrom(
    "a",
    "b",
    ".",
    "..",
    "",
    "%2e",
    "%2E%2e",
    "%2f",
    "..%2f",
    "%252e",
    "%00",
    "%",
    "x%2",
    "%c3%a9",
  );
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 8 }), fc.boolean(), (segs, merge) => {
      const r = normalizeUri("/" + segs.join("/"), { mergeSlashes: merge });
      if ("status" in r) return r.status === 400;
      const parts = r.uri.split("/");
      return (
        r.uri.startsWith("/") &&
        !parts.includes("..") &&
        !parts.includes(".") &&
        !r.uri.includes("\0")
      );
    }),
    { numRuns: 2000 },
  );
});
