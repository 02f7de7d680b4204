// Pure policies of src/static as tables: range, conditional, etag, resolve, mime, expires, gzip, dates.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseRange,
  planMultipart,
  contentRange,
  unsatisfiedRange,
  nextBoundary,
} from "../../src/static/range.js";
import {
  evaluatePreconditions,
  ifRangeHolds,
  type Preconditions,
  type Validators,
} from "../../src/static/conditional.js";
import { fileEtag, weakEtag, parseEtagList } from "../../src/static/etag.js";
import { resolveStaticPath, hasDotSegment } from "../../src/static/resolve.js";
import {
  contentTypeFor,
  extensionOf,
  mimeDbLookup,
  DEFAULT_CHARSET_TYPES,
} from "../../src/static/mime.js";
import { expiresHeaders } from "../../src/static/expires.js";
import { acceptsGzip, gzipEligible, GZIP_OFF } from "../../src/static/gzip.js";
import { parseHttpDate, formatHttpDate } from "../../src/static/httpdate.js";
import { renderAutoindex } from "../../src/static/autoindex.js";
import { FileCache, type CachedFile } from "../../src/static/cache.js";

void test("parseRange follows ngx_http_range_parse", () => {
  const P = (ranges: Array<[number, number]>) => ({
    kind: "partial",
    ranges: ranges.map(([start, end]) => ({ start, end })),
  });
  const FULL = { kind: "full" };
  const BAD = { kind: "unsatisfiable" };
  const rows: Array<[string, number, number | null, unknown]> = [
    ["bytes=0-99", 1000, null, P([[0, 100]])],
    ["bytes=0-0", 1000, null, P([[0, 1]])],
    ["bytes=900-", 1000, null, P([[900, 1000]])],
    ["bytes=-100", 1000, null, P([[900, 1000]])],
    ["bytes=-2000", 1000, null, P([[0, 1000]])],
    ["bytes=500-5000", 1000, null, P([[500, 1000]])],
    ["BYTES=1-2", 1000, null, P([[1, 3]])],
    [
      "bytes= 1 - 2 , 5-6",
      1000,
      null,
      P([
        [1, 3],
        [5, 7],
      ]),
    ],
    [
      "bytes=0-1,4-5,8-9",
      10,
      null,
      P([
        [0, 2],
        [4, 6],
        [8, 10],
      ]),
    ],
    ["bytes=1000-", 1000, null, BAD],
    ["bytes=1000-1001", 1000, null, BAD],
    ["bytes=5-3", 1000, null, BAD],
    ["bytes=abc", 1000, null, BAD],
    ["bytes=1-2x", 1000, null, BAD],
    ["bytes=-", 1000, null, BAD],
    ["bytes=99999999999999999999-", 1000, null, BAD],
    ["bytes=2000-3000,0-1", 1000, null, P([[0, 2]])],
    ["items=0-1", 1000, null, FULL],
    ["bytes", 1000, null, FULL],
    ["bytes=0-", 0, null, FULL], // empty file: served whole
    ["bytes=-5", 0, null, FULL],
    ["bytes=0-1,2-3", 10, 1, FULL], // more than max_ranges: 200
    ["bytes=0-1", 10, 1, P([[0, 2]])],
    ["bytes=0-1", 10, 0, FULL], // max_ranges 0 disables
    ["bytes=0-9,0-9", 10, null, FULL], // overlapping total beyond the file: 200
    ["bytes=0-5,3-9", 10, null, FULL],
    [
      "bytes=0-4,3-6",
      10,
      null,
      P([
        [0, 5],
        [3, 7],
      ]),
    ], // overlap within size: kept as is (nginx)
  ];
  for (const [h, size, max, want] of rows)
    assert.deepEqual(parseRange(h, size, max), want, `${h} size=${size} max=${max}`);
});

void test("range headers and multipart layout are nginx's", () => {
  assert.equal(contentRange({ start: 0, end: 100 }, 1000), "bytes 0-99/1000");
  assert.equal(unsatisfiedRange(1000), "bytes */1000");
  assert.match(nextBoundary(), /^\d{20}$/);
  const b = "00000000000000000007";
  const plan = planMultipart(
    [
      { start: 0, end: 2 },
      { start: 5, end: 6 },
    ],
    10,
    "text/plain",
    b,
  );
  assert.equal(plan.contentType, `multipart/byteranges; boundary=${b}`);
  const body =
    `\r\n--${b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n` +
    "ab" +
    `\r\n--${b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-5/10\r\n\r\n` +
    "f" +
    `\r\n--${b}--\r\n`;
  assert.equal(plan.contentLength, body.length);
  assert.equal(plan.parts[0]!.head + "ab" + plan.parts[1]!.head + "f" + plan.tail, body);
});

void test("preconditions in RFC 9110 §13.2.2 order", () => {
  const v: Validators = { etag: '"a-10"', lastModified: 1000 };
  const d = (s: number) => formatHttpDate(s);
  const none: Preconditions = {
    ifMatch: null,
    ifNoneMatch: null,
    ifModifiedSince: null,
    ifUnmodifiedSince: null,
  };
  const rows: Array<[string, Partial<Record<keyof Preconditions, string>>, string, string?]> = [
    ["no headers", {}, "proceed"],
    ["INM match", { ifNoneMatch: '"a-10"' }, "not-modified"],
    ["INM weak match", { ifNoneMatch: 'W/"a-10"' }, "not-modified"],
    ["INM list", { ifNoneMatch: '"x", "a-10"' }, "not-modified"],
    ["INM star", { ifNoneMatch: "*" }, "not-modified"],
    ["INM other", { ifNoneMatch: '"b-10"' }, "proceed"],
    ["INM beats IMS", { ifNoneMatch: '"b-10"', ifModifiedSince: d(1000) }, "proceed"],
    ["INM on POST", { ifNoneMatch: '"a-10"' }, "failed", "POST"],
    ["IMS exact", { ifModifiedSince: d(1000) }, "not-modified"],
    ["IMS later (exact)", { ifModifiedSince: d(2000) }, "proceed"],
    ["IMS earlier", { ifModifiedSince: d(999) }, "proceed"],
    ["IMS invalid", { ifModifiedSince: "yesterday" }, "proceed"],
    ["IMS on POST ignored", { ifModifiedSince: d(1000) }, "proceed", "POST"],
    ["IM match", { ifMatch: '"a-10"' }, "proceed"],
    ["IM star", { ifMatch: "*" }, "proceed"],
    ["IM weak never matches", { ifMatch: 'W/"a-10"' }, "failed"],
    ["IM other", { ifMatch: '"b-1"' }, "failed"],
    ["IM beats IUS", { ifMatch: '"a-10"', ifUnmodifiedSince: d(10) }, "proceed"],
    ["IUS ok", { ifUnmodifiedSince: d(1000) }, "proceed"],
    ["IUS later ok", { ifUnmodifiedSince: d(5000) }, "proceed"],
    ["IUS earlier", { ifUnmodifiedSince: d(999) }, "failed"],
    ["IUS invalid ignored", { ifUnmodifiedSince: "garbage" }, "proceed"],
    ["IUS fails before INM", { ifUnmodifiedSince: d(1), ifNoneMatch: '"a-10"' }, "failed"],
    ["IM ok then INM match", { ifMatch: '"a-10"', ifNoneMatch: '"a-10"' }, "not-modified"],
  ];
  for (const [name, h, want, method] of rows) {
    assert.equal(evaluatePreconditions(method ?? "GET", { ...none, ...h }, v, "exact"), want, name);
  }
  const ims = (mode: "off" | "exact" | "before", at: number) =>
    evaluatePreconditions("GET", { ...none, ifModifiedSince: d(at) }, v, mode);
  assert.equal(ims("before", 2000), "not-modified");
  assert.equal(ims("before", 999), "proceed");
  assert.equal(ims("off", 1000), "proceed");
  // etag off: If-Match needs "*", If-None-Match lists never match
  const noTag: Validators = { etag: null, lastModified: 1000 };
  assert.equal(
    evaluatePreconditions("GET", { ...none, ifMatch: '"a-10"' }, noTag, "exact"),
    "failed",
  );
  assert.equal(evaluatePreconditions("GET", { ...none, ifMatch: "*" }, noTag, "exact"), "proceed");
  assert.equal(
    evaluatePreconditions("GET", { ...none, ifNoneMatch: '"a-10"' }, noTag, "exact"),
    "proceed",
  );
  // a weak current tag (gzip) still satisfies If-None-Match
  const weak: Validators = { etag: 'W/"a-10"', lastModified: 1000 };
  assert.equal(
    evaluatePreconditions("GET", { ...none, ifNoneMatch: '"a-10"' }, weak, "exact"),
    "not-modified",
  );
  assert.equal(
    evaluatePreconditions("GET", { ...none, ifMatch: '"a-10"' }, weak, "exact"),
    "failed",
  );
});

void test("If-Range", () => {
  const v: Validators = { etag: '"a-10"', lastModified: 1000 };
  assert.equal(ifRangeHolds(null, v), true);
  assert.equal(ifRangeHolds('"a-10"', v), true);
  assert.equal(ifRangeHolds('"b-10"', v), false);
  assert.equal(ifRangeHolds('W/"a-10"', v), false);
  assert.equal(ifRangeHolds('"a-10"', { etag: 'W/"a-10"', lastModified: 1000 }), false);
  assert.equal(ifRangeHolds(formatHttpDate(1000), v), true);
  assert.equal(ifRangeHolds(formatHttpDate(1001), v), false);
  assert.equal(ifRangeHolds("nonsense", v), false);
});

void test("etag format and lists", () => {
  assert.equal(fileEtag(0x5f3e1a2b, 1024), '"5f3e1a2b-400"');
  assert.equal(weakEtag('"a-1"'), 'W/"a-1"');
  assert.equal(weakEtag('W/"a-1"'), 'W/"a-1"');
  assert.deepEqual(parseEtagList('"a,b", W/"c" ,junk, "d'), [
    { weak: false, tag: '"a,b"' },
    { weak: true, tag: '"c"' },
  ]);
  assert.equal(parseEtagList(" * "), null);
});

void test("HTTP dates: three forms, invalid rejected", () => {
  const t = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
  assert.equal(formatHttpDate(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), t);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), t);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), t);
  for (const bad of [
    "",
    "Sun, 31 Feb 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "06 Nov 1994",
    "Sun, 06 Nov 1994 25:00:00 GMT",
  ]) {
    assert.equal(parseHttpDate(bad), null, bad);
  }
});

void test("resolve: root, alias and every traversal shape", () => {
  const root = { root: "/srv/www", alias: null, dotfiles: false };
  const alias = { root: null, alias: { prefix: "/static", path: "/app/static/" }, dotfiles: false };
  const aliasNoSlash = {
    root: null,
    alias: { prefix: "/static/", path: "/app/static" },
    dotfiles: false,
  };
  const ok = (path: string, rel: string, jail: string) => ({ ok: true, path, rel, jail });
  const rows: Array<[string, Parameters<typeof resolveStaticPath>[1], unknown]> = [
    ["/a/b.css", root, ok("/srv/www/a/b.css", "a/b.css", "/srv/www")],
    ["/", root, ok("/srv/www/", "", "/srv/www")],
    ["/dir/", root, ok("/srv/www/dir/", "dir", "/srv/www")],
    ["//a//b", root, ok("/srv/www/a/b", "a/b", "/srv/www")],
    ["/static/x.js", alias, ok("/app/static/x.js", "x.js", "/app/static")],
    ["/static", alias, ok("/app/static/", "", "/app/static")],
    ["/staticfoo", alias, ok("/app/static/foo", "foo", "/app/static")],
    ["/static/", aliasNoSlash, ok("/app/static", "", "/app/static")],
    ["/.well-known/acme", root, ok("/srv/www/.well-known/acme", ".well-known/acme", "/srv/www")],
    [
      "/a",
      { root: "/srv//www/./", alias: null, dotfiles: false },
      ok("/srv/www/a", "a", "/srv/www"),
    ],
    ["/a", { root: "/", alias: null, dotfiles: false }, ok("/a", "a", "/")],
    [
      "/favicon.ico",
      { root: null, alias: { prefix: "/favicon.ico", path: "/app/img/fav.ico" }, dotfiles: false },
      ok("/app/img/fav.ico", "", "/app/img/fav.ico"),
    ],
    [
      "/img/a/b.png",
      {
        root: null,
        alias: { prefix: "/img/a/b.png", path: "/app/img/a/b.png" },
        jail: "/app/img",
        dotfiles: false,
      },
      ok("/app/img/a/b.png", "a/b.png", "/app/img"),
    ],
  ];
  for (const [uri, m, want] of rows) assert.deepEqual(resolveStaticPath(uri, m), want, uri);
  const refused: Array<[string, Parameters<typeof resolveStaticPath>[1], number]> = [
    ["/static../secret", alias, 404], // the classic alias misconfiguration
    ["/static..", alias, 404],
    ["/static../static/x.js", alias, 404],
    ["/static.env", alias, 404], // alias join creating a dotfile
    ["/staticx/../../etc/passwd", alias, 400],
    ["/static/x.js", aliasNoSlash, 404], // nginx maps this to the sibling /app/staticx.js
    ["/../etc/passwd", root, 400],
    ["/a/./b", root, 400],
    ["/a/..", root, 400],
    ["/a\0b", root, 400],
    ["/..\\..\\etc\\passwd", root, 400],
    ["/a\\b", root, 400],
    ["/.git/config", root, 404],
    ["/a/.env", root, 404],
    ["/.htpasswd", root, 404],
    ["relative", root, 400],
    ["", root, 400],
    ["/other", alias, 404],
    ["/x", { root: null, alias: null, dotfiles: false }, 404],
  ];
  for (const [uri, m, st] of refused) {
    const r = resolveStaticPath(uri, m);
    assert.equal(r.ok, false, uri);
    assert.equal(!r.ok && r.status, st, uri);
  }
  // A sibling directory sharing the prefix is outside: alias /app/static (no slash) + /static/../x
  const sib = resolveStaticPath("/staticx", {
    root: null,
    alias: { prefix: "/static", path: "/app/static" },
    dotfiles: false,
  });
  assert.equal(sib.ok, false);
  assert.deepEqual(
    resolveStaticPath("/.env", { ...root, dotfiles: true }),
    ok("/srv/www/.env", ".env", "/srv/www"),
  );
  assert.equal(hasDotSegment("/a/.well-known/b"), false);
  assert.equal(hasDotSegment("/a/.well-knownx/b"), true);
});

void test("mime: mime-db map with nginx's choices, charset", () => {
  assert.equal(extensionOf("/a/b.TXT"), "txt");
  assert.equal(extensionOf("/a.d/b"), "");
  assert.equal(extensionOf("/a/b."), "");
  assert.equal(mimeDbLookup("html"), "text/html");
  assert.equal(mimeDbLookup("css"), "text/css");
  assert.equal(mimeDbLookup("js"), "application/javascript");
  assert.equal(mimeDbLookup("png"), "image/png");
  assert.equal(mimeDbLookup("nope-ext"), null);
  const ct = (uri: string, charset: string | null) =>
    contentTypeFor(uri, mimeDbLookup, "application/octet-stream", charset, DEFAULT_CHARSET_TYPES)
      .header;
  assert.equal(ct("/x.html", "utf-8"), "text/html; charset=utf-8");
  assert.equal(ct("/x.css", "utf-8"), "text/css"); // not in default charset_types
  assert.equal(ct("/x.html", null), "text/html");
  assert.equal(ct("/x", "utf-8"), "application/octet-stream");
  assert.equal(
    contentTypeFor("/x.css", mimeDbLookup, "x/y", "koi8-r", "*").header,
    "text/css; charset=koi8-r",
  );
});

void test("expires: nginx's header values", () => {
  const now = 1_000_000;
  assert.deepEqual(expiresHeaders({ kind: "off" }, 200, now, null), []);
  assert.deepEqual(expiresHeaders({ kind: "max" }, 200, now, null), [
    ["Expires", "Thu, 31 Dec 2037 23:55:55 GMT"],
    ["Cache-Control", "max-age=315360000"],
  ]);
  assert.deepEqual(expiresHeaders({ kind: "epoch" }, 304, now, null), [
    ["Expires", "Thu, 01 Jan 1970 00:00:01 GMT"],
    ["Cache-Control", "no-cache"],
  ]);
  assert.deepEqual(
    expiresHeaders({ kind: "after", seconds: 3600, modified: false }, 200, now, null),
    [
      ["Expires", formatHttpDate(now + 3600)],
      ["Cache-Control", "max-age=3600"],
    ],
  );
  assert.deepEqual(
    expiresHeaders({ kind: "after", seconds: -60, modified: false }, 200, now, null),
    [
      ["Expires", formatHttpDate(now - 60)],
      ["Cache-Control", "no-cache"],
    ],
  );
  assert.deepEqual(
    expiresHeaders({ kind: "after", seconds: 100, modified: true }, 200, now, now - 50),
    [
      ["Expires", formatHttpDate(now + 50)],
      ["Cache-Control", "max-age=50"],
    ],
  );
  assert.deepEqual(
    expiresHeaders({ kind: "after", seconds: 10, modified: true }, 200, now, now - 50),
    [
      ["Expires", formatHttpDate(now - 40)],
      ["Cache-Control", "no-cache"],
    ],
  );
  assert.deepEqual(
    expiresHeaders({ kind: "after", seconds: 3600, modified: false }, 404, now, null),
    [],
  );
  const daily = expiresHeaders({ kind: "daily", secondOfDay: 0 }, 200, 86400 * 10 + 5, null);
  assert.deepEqual(daily[1], ["Cache-Control", `max-age=${86400 - 5}`]);
});

void test("gzip: Accept-Encoding and gzip_types", () => {
  const rows: Array<[string | null, boolean]> = [
    [null, false],
    ["", false],
    ["gzip", true],
    ["GZIP", true],
    ["deflate, gzip;q=0.5", true],
    ["gzip;q=0", false],
    ["gzip; q=0.000", false],
    ["x-gzip", true],
    ["*", true],
    ["*;q=0", false],
    ["br, *;q=0.1", true],
    ["gzip;q=0, *", false],
    ["br", false],
    ["identity", false],
  ];
  for (const [ae, want] of rows) assert.equal(acceptsGzip(ae), want, String(ae));
  const on = { ...GZIP_OFF, enabled: true, types: new Set(["text/css"]) };
  assert.equal(gzipEligible(on, "text/html", 100), true);
  assert.equal(gzipEligible(on, "text/css", 100), true);
  assert.equal(gzipEligible(on, "image/png", 100), false);
  assert.equal(gzipEligible(on, "text/html", 19), false);
  assert.equal(gzipEligible(GZIP_OFF, "text/html", 100), false);
  assert.equal(gzipEligible({ ...on, types: "*" }, "image/png", 100), true);
});

void test("autoindex: nginx's html layout, dirs first, hidden left out, escaped", () => {
  const html = renderAutoindex("/d/", [
    { name: "b.txt", dir: false, size: 1234, mtimeMs: Date.UTC(2026, 10, 26, 23, 0) },
    { name: "a<x>", dir: true, size: 0, mtimeMs: Date.UTC(2026, 0, 2, 3, 4) },
    { name: ".hidden", dir: false, size: 1, mtimeMs: 0 },
  ]);
  assert.ok(html.startsWith("<html>\r\n<head><title>Index of /d/</title></head>"));
  assert.ok(!html.includes(".hidden"));
  const dirLine = html.indexOf('<a href="a%3Cx%3E/">a&lt;x&gt;/</a>');
  const fileLine = html.indexOf('<a href="b.txt">b.txt</a>');
  assert.ok(dirLine > 0 && fileLine > dirLine);
  assert.ok(html.includes("26-Nov-2026 23:00                1234\r\n"));
  assert.ok(html.includes("02-Jan-2026 03:04                   -\r\n"));
});

void test("FileCache: LRU bounded by bytes, oversize files skipped", () => {
  const c = new FileCache({ maxFileSize: 100, maxBytes: 250 });
  const mk = (path: string, n: number): CachedFile => ({
    path,
    dev: 1,
    ino: 1,
    size: n,
    mtimeMs: 0,
    realPath: path,
    body: Buffer.alloc(n),
    etag: '"0-0"',
    lastModified: "",
    gzipped: null,
    checkedAt: 0,
  });
  c.set(mk("/a", 100));
  c.set(mk("/b", 100));
  c.set(mk("/big", 101));
  assert.equal(c.get("/big"), undefined);
  assert.ok(c.get("/a")); // /a becomes most recent
  c.set(mk("/c", 100)); // evicts /b
  assert.equal(c.get("/b"), undefined);
  assert.ok(c.get("/a") && c.get("/c"));
  assert.equal(c.bytes, 200);
  const a = c.get("/a")!;
  c.addGzip(a, 1, Buffer.alloc(60)); // 260 > 250: evicts the LRU (/c)
  assert.equal(c.get("/c"), undefined);
  assert.equal(c.bytes, 160);
  c.delete("/a");
  assert.equal(c.bytes, 0);
});
