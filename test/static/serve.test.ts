// Every static behaviour over a real socket: an HttpServer on port 0 whose handler plays the
// nginx pipeline (normalizeUri, then serveStatic with per-test options chosen by X-Test).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import {
  writeFileSync,
  utimesSync,
  unlinkSync,
  symlinkSync,
  readFileSync,
  readdirSync,
} from "node:fs";
import { connect } from "node:net";
import { normalizeUri } from "../../src/router/normalize.js";
import {
  serveStatic,
  finishOutcome,
  staticOptions,
  staticHandler,
  FileCache,
  type StaticOptions,
} from "../../src/static/index.js";
import { formatHttpDate } from "../../src/static/httpdate.js";
import { Logger, LineSink } from "../../src/core/log.js";
import type { Handler } from "../../src/http/types.js";
import { makeFixture, SECRET, type Fixture } from "./fixture.js";
import { request, exchange, type RawResponse } from "./client.js";
import { startServer, type Running } from "./harness.js";

const log = new Logger(new LineSink("-"), "critical");
let fx: Fixture;
let srv: Running;
let standalone: Running;
let port = 0;
const configs: Record<string, StaticOptions> = {};

function pipelineHandler(): Handler {
  return async (req, res) => {
    const opts = configs[req.header("x-test") ?? "default"];
    if (opts === undefined) {
      res.sendError(500);
      return;
    }
    const n = normalizeUri(req.path, { mergeSlashes: true });
    if ("status" in n) {
      res.sendError(400);
      return;
    }
    let uri = n.uri;
    for (let i = 0; i < 10; i++) {
      const out = await serveStatic(req, res, uri, opts, log);
      if (out.kind !== "internal") {
        finishOutcome(res, out);
        return;
      }
      uri = out.uri;
    }
    res.sendError(500);
  };
}

before(async () => {
  fx = makeFixture();
  const cache = () => new FileCache({ maxFileSize: 64 * 1024, maxBytes: 1024 * 1024 });
  const base = staticOptions({ root: fx.root, cache: cache() });
  const gzip = {
    enabled: true,
    types: new Set(["text/css", "text/plain"]),
    minLength: 20,
    level: 6,
    vary: true,
    httpVersion: "1.1" as const,
  };
  Object.assign(configs, {
    default: base,
    // validMs 0: revalidated once per event-loop turn (a change shows on the next request).
    turn: {
      ...base,
      cache: new FileCache({ maxFileSize: 64 * 1024, maxBytes: 1024 * 1024, validMs: 0 }),
    },
    nocache: { ...base, cache: null },
    alias: staticOptions({
      root: null,
      alias: { prefix: "/static", path: fx.app + "/static/" },
      cache: cache(),
    }),
    autoindex: { ...base, autoindex: true },
    gzip: { ...base, cache: cache(), gzip, gzipStatic: "on" },
    gzipnocache: { ...base, cache: null, gzip },
    always: { ...base, gzipStatic: "always" },
    follow: { ...base, cache: null, symlinks: "follow" },
    refuse: { ...base, cache: null, symlinks: "refuse" },
    dotfiles: { ...base, dotfiles: true },
    expires: { ...base, expires: { kind: "after", seconds: 3600, modified: false }, etag: false },
    norange: { ...base, maxRanges: 0 },
    onerange: { ...base, maxRanges: 1 },
    before: { ...base, ifModifiedSince: "before" },
    imsoff: { ...base, ifModifiedSince: "off" },
    internal: { ...base, indexMode: "internal", index: ["missing.html", "index.html"] },
    charset: { ...base, charset: "utf-8" },
    headers: { ...base, addHeaders: (st: number) => [["X-Status-Seen", String(st)]] },
  } satisfies Record<string, StaticOptions>);
  srv = await startServer(pipelineHandler());
  port = srv.port;
  standalone = await startServer(staticHandler(staticOptions({ root: fx.root }), log));
});

after(async () => {
  await srv?.close();
  await standalone?.close();
  fx?.cleanup();
});

const get = (path: string, h: Record<string, string> = {}, cfg = "default"): Promise<RawResponse> =>
  request(port, "GET", path, { "X-Test": cfg, ...h });

const ETAG = (size: number) => `"${(1_700_000_000).toString(16)}-${size.toString(16)}"`;
const LM = formatHttpDate(1_700_000_000);

void test("GET a file: exact status, headers and body, from disk then from the cache", async () => {
  for (let i = 0; i < 2; i++) {
    const r = await get("/hello.txt");
    assert.equal(r.status, 200);
    assert.equal(r.reason, "OK");
    assert.equal(r.header("content-type"), "text/plain");
    assert.equal(r.header("content-length"), String(fx.hello.length));
    assert.equal(r.header("last-modified"), LM);
    assert.equal(r.header("etag"), ETAG(fx.hello.length));
    assert.equal(r.header("accept-ranges"), "bytes");
    assert.equal(r.body.toString(), fx.hello);
  }
  const e = await get("/empty.txt");
  assert.equal(e.status, 200);
  assert.equal(e.header("content-length"), "0");
  assert.equal(e.body.length, 0);
  const u = await get("/sp%20ace/%C3%A9.txt");
  assert.equal(u.status, 200);
  assert.equal(u.body.toString(), "utf8 name\n");
});

void test("concurrent large files and ranges stay intact (read buffers are pooled)", async () => {
  const whole = Array.from({ length: 6 }, () => get("/big.bin", {}, "nocache"));
  const part = get("/big.bin", { Range: "bytes=100000-1500000" }, "nocache");
  for (const r of await Promise.all(whole)) assert.ok(r.body.equals(fx.big));
  const p = await part;
  assert.equal(p.status, 206);
  assert.ok(p.body.equals(fx.big.subarray(100000, 1500001)));
});

void test("large files stream from the descriptor (no cache) and keep-alive survives", async () => {
  const r = await get("/big.bin", {}, "nocache");
  assert.equal(r.status, 200);
  assert.equal(r.header("content-type"), "application/octet-stream");
  assert.equal(r.header("content-length"), String(fx.big.length));
  assert.ok(r.body.equals(fx.big));
  const r2 = await get("/big.bin"); // above the 64 KiB cache limit: fd path with the cache on
  assert.ok(r2.body.equals(fx.big));
  // two requests on one connection: the second answer follows the first intact
  const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const [first, second] = await exchange(
    port,
    req("/big.bin") + req("/hello.txt").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
  );
  assert.equal(first?.status, 200);
  assert.ok(first.body.equals(fx.big));
  assert.ok(second !== undefined);
  assert.equal(second.status, 200);
  assert.equal(second.body.toString(), fx.hello);
});

void test("a client leaving mid-file costs no descriptor", async () => {
  const fds = (): number => readdirSync("/proc/self/fd").length;
  await get("/big.bin", {}, "nocache"); // warm up lazily opened handles
  const baseline = fds();
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve, reject) => {
      const sock = connect(port, "127.0.0.1");
      sock.on("error", reject);
      sock.once("data", () => {
        sock.destroy();
        resolve();
      });
      sock.write("GET /big.bin HTTP/1.1\r\nHost: x\r\nX-Test: nocache\r\n\r\n");
    });
  }
  for (let i = 0; i < 40 && fds() > baseline; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fds() <= baseline, `${fds()} descriptors open, ${baseline} before`);
  assert.equal((await get("/hello.txt")).body.toString(), fx.hello);
});

void test("HEAD mirrors GET without a body", async () => {
  for (const cfg of ["default", "nocache"]) {
    const r = await request(port, "HEAD", "/hello.txt", { "X-Test": cfg });
    assert.equal(r.status, 200);
    assert.equal(r.header("content-length"), String(fx.hello.length));
    assert.equal(r.header("etag"), ETAG(fx.hello.length));
    assert.equal(r.header("content-type"), "text/plain");
    assert.equal(r.body.length, 0);
  }
});

void test("methods: 405 without Allow for anything but GET/HEAD on files, as nginx", async () => {
  for (const [m, p, st] of [
    ["POST", "/hello.txt", 405],
    ["PUT", "/hello.txt", 405],
    ["DELETE", "/missing", 405],
    ["OPTIONS", "/hello.txt", 405],
    ["POST", "/missing", 404],
    ["POST", "/dir", 301],
    ["POST", "/dir/", 405],
  ] as const) {
    const r = await request(port, m, p, { "Content-Length": "0" });
    assert.equal(r.status, st, `${m} ${p}`);
    if (st === 405) assert.equal(r.header("allow"), null);
  }
});

void test("404, directory redirect with the query, index, 403 without index, autoindex", async () => {
  assert.equal((await get("/missing.txt")).status, 404);
  assert.equal((await get("/missing/")).status, 404);
  assert.equal((await get("/hello.txt/")).status, 404);
  const d = await get("/dir");
  assert.equal(d.status, 301);
  assert.equal(d.header("location"), "/dir/");
  const q = await get("/dir?a=1&b");
  assert.equal(q.status, 301);
  assert.equal(q.header("location"), "/dir/?a=1&b");
  const sp = await get("/sp%20ace");
  assert.equal(sp.header("location"), "/sp%20ace/");
  const i = await get("/dir/");
  assert.equal(i.status, 200);
  assert.equal(i.header("content-type"), "text/html");
  assert.equal(i.body.toString(), "<p>dir index</p>\n");
  assert.equal((await get("/")).body.toString(), "<h1>home</h1>\n");
  assert.equal((await get("/nodir/")).status, 403);
  const a = await get("/nodir/", {}, "autoindex");
  assert.equal(a.status, 200);
  assert.match(
    a.body.toString(),
    /<h1>Index of \/nodir\/<\/h1><hr><pre><a href="\.\.\/">\.\.\/<\/a>\r\n<a href="a\.txt">a\.txt<\/a> +\d\d-\w{3}-\d{4} \d\d:\d\d +2\r\n/,
  );
  const root = await get("/", {}, "autoindex"); // index wins over autoindex
  assert.equal(root.body.toString(), "<h1>home</h1>\n");
  const listing = (await get("/sp%20ace/", {}, "autoindex")).body.toString();
  assert.ok(listing.includes('<a href="%C3%A9.txt">é.txt</a>'));
  const hidden = await get("/", {}, "autoindex");
  assert.ok(!hidden.body.toString().includes(".env"));
  // indexMode "internal": the pipeline re-dispatches to the found index URI
  const internal = await get("/dir/", {}, "internal");
  assert.equal(internal.body.toString(), "<p>dir index</p>\n");
});

void test("conditional requests (RFC 9110 §13.2.2 order)", async () => {
  const etag = ETAG(fx.hello.length);
  const nm = await get("/hello.txt", { "If-None-Match": etag });
  assert.equal(nm.status, 304);
  assert.equal(nm.header("etag"), etag);
  assert.equal(nm.header("last-modified"), LM);
  assert.equal(nm.header("content-type"), null);
  assert.equal(nm.body.length, 0);
  assert.equal((await get("/hello.txt", { "If-None-Match": `"x", W/${etag}` })).status, 304);
  assert.equal((await get("/hello.txt", { "If-None-Match": "*" })).status, 304);
  assert.equal((await get("/hello.txt", { "If-None-Match": '"other"' })).status, 200);
  assert.equal(
    (await get("/hello.txt", { "If-None-Match": '"other"', "If-Modified-Since": LM })).status,
    200,
  );
  assert.equal((await get("/hello.txt", { "If-Modified-Since": LM })).status, 304);
  const later = formatHttpDate(1_700_000_100);
  assert.equal((await get("/hello.txt", { "If-Modified-Since": later })).status, 200);
  assert.equal((await get("/hello.txt", { "If-Modified-Since": later }, "before")).status, 304);
  assert.equal((await get("/hello.txt", { "If-Modified-Since": LM }, "imsoff")).status, 200);
  assert.equal((await get("/hello.txt", { "If-Modified-Since": "garbage" })).status, 200);
  const pf = await get("/hello.txt", { "If-Match": '"other"' });
  assert.equal(pf.status, 412);
  assert.ok(!pf.body.includes(fx.hello));
  assert.equal((await get("/hello.txt", { "If-Match": etag })).status, 200);
  assert.equal((await get("/hello.txt", { "If-Match": "*" })).status, 200);
  assert.equal(
    (await get("/hello.txt", { "If-Unmodified-Since": formatHttpDate(1_600_000_000) })).status,
    412,
  );
  assert.equal((await get("/hello.txt", { "If-Unmodified-Since": LM })).status, 200);
  assert.equal((await request(port, "HEAD", "/hello.txt", { "If-None-Match": etag })).status, 304);
  // etag off: no ETag header, and expires adds Expires/Cache-Control to 200 and 304
  const ex = await get("/hello.txt", {}, "expires");
  assert.equal(ex.header("etag"), null);
  assert.equal(ex.header("cache-control"), "max-age=3600");
  assert.ok(ex.header("expires") !== null);
  const ex304 = await get("/hello.txt", { "If-Modified-Since": LM }, "expires");
  assert.equal(ex304.status, 304);
  assert.equal(ex304.header("cache-control"), "max-age=3600");
  const ah = await get("/hello.txt", { "If-Modified-Since": LM }, "headers");
  assert.equal(ah.header("x-status-seen"), "304");
});

void test("ranges: single, suffix, open, multipart, 416, max_ranges, If-Range", async () => {
  const body = Buffer.from(fx.hello);
  const n = body.length;
  for (const cfg of ["default", "nocache"]) {
    const r = await get("/hello.txt", { Range: "bytes=0-4" }, cfg);
    assert.equal(r.status, 206);
    assert.equal(r.header("content-range"), `bytes 0-4/${n}`);
    assert.equal(r.header("content-length"), "5");
    assert.equal(r.header("content-type"), "text/plain");
    assert.equal(r.body.toString(), "Hello");
    assert.equal(
      (await get("/hello.txt", { Range: "bytes=-6" }, cfg)).body.toString(),
      "world!\n".slice(1),
    );
    assert.equal(
      (await get("/hello.txt", { Range: "bytes=7-" }, cfg)).body.toString(),
      fx.hello.slice(7),
    );
    const m = await get("/hello.txt", { Range: "bytes=0-1,7-12" }, cfg);
    assert.equal(m.status, 206);
    const ct = m.header("content-type") ?? "";
    const boundary = /^multipart\/byteranges; boundary=(\d{20})$/.exec(ct)?.[1];
    assert.ok(boundary, ct);
    const want =
      `\r\n--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/${n}\r\n\r\nHe` +
      `\r\n--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-12/${n}\r\n\r\nstatic` +
      `\r\n--${boundary}--\r\n`;
    assert.equal(m.body.toString(), want);
    assert.equal(m.header("content-length"), String(want.length));
    const u = await get("/hello.txt", { Range: `bytes=${n}-` }, cfg);
    assert.equal(u.status, 416);
    assert.equal(u.header("content-range"), `bytes */${n}`);
    assert.ok(!u.body.includes("Hello"));
  }
  const big = await get("/big.bin", { Range: "bytes=1000000-1000099,-10" });
  assert.equal(big.status, 206);
  assert.ok(big.body.includes(fx.big.subarray(1000000, 1000100)));
  assert.ok(big.body.includes(fx.big.subarray(fx.big.length - 10)));
  const bigOne = await get("/big.bin", { Range: "bytes=65536-200000" }, "nocache");
  assert.ok(bigOne.body.equals(fx.big.subarray(65536, 200001)));
  assert.equal((await get("/hello.txt", { Range: "bytes=0-1,3-4" }, "onerange")).status, 200);
  assert.equal((await get("/hello.txt", { Range: "bytes=0-1" }, "onerange")).status, 206);
  const nr = await get("/hello.txt", { Range: "bytes=0-1" }, "norange");
  assert.equal(nr.status, 200);
  assert.equal(nr.header("accept-ranges"), null);
  assert.equal((await get("/hello.txt", { Range: "items=0-1" })).status, 200);
  assert.equal((await get("/hello.txt", { Range: "bytes=0-1", "If-Range": ETAG(n) })).status, 206);
  assert.equal(
    (await get("/hello.txt", { Range: "bytes=0-1", "If-Range": '"stale"' })).status,
    200,
  );
  assert.equal((await get("/hello.txt", { Range: "bytes=0-1", "If-Range": LM })).status, 206);
  assert.equal(
    (await get("/hello.txt", { Range: "bytes=0-1", "If-Range": formatHttpDate(1) })).status,
    200,
  );
  const h = await request(port, "HEAD", "/hello.txt", { Range: "bytes=0-4" });
  assert.equal(h.status, 206);
  assert.equal(h.body.length, 0);
  assert.equal((await get("/empty.txt", { Range: "bytes=0-" })).status, 200);
});

void test("gzip_static: the .gz sibling with Content-Encoding and Vary", async () => {
  const r = await get("/style.css", { "Accept-Encoding": "gzip, br" }, "gzip");
  assert.equal(r.status, 200);
  assert.equal(r.header("content-encoding"), "gzip");
  assert.equal(r.header("vary"), "Accept-Encoding");
  assert.equal(r.header("content-type"), "text/css");
  assert.equal(r.header("content-length"), String(fx.cssGz.length));
  assert.equal(gunzipSync(r.body).toString(), "PRECOMPRESSED VARIANT\n");
  const plain = await get("/style.css", {}, "gzip");
  assert.equal(plain.header("content-encoding"), null);
  assert.equal(plain.header("vary"), "Accept-Encoding");
  assert.equal(plain.body.toString(), "p { color: red; }\n".repeat(20));
  const q0 = await get("/style.css", { "Accept-Encoding": "gzip;q=0" }, "gzip");
  assert.equal(q0.header("content-encoding"), null);
  const always = await get("/style.css", {}, "always");
  assert.equal(always.header("content-encoding"), "gzip");
  const range = await get("/style.css", { "Accept-Encoding": "gzip", Range: "bytes=0-1" }, "gzip");
  assert.equal(range.status, 206); // a range of the .gz representation itself
  assert.ok(range.body.equals(fx.cssGz.subarray(0, 2)));
  // an HTTP/1.0 client gets no gzip (gzip_http_version 1.1)
  const [old] = await exchange(
    port,
    "GET /style.css HTTP/1.0\r\nX-Test: gzip\r\nAccept-Encoding: gzip\r\n\r\n",
  );
  assert.equal(old?.status, 200);
  assert.equal(old.header("content-encoding"), null);
});

void test("on-the-fly gzip for text types: weak ETag, no ranges, cached and streamed", async () => {
  for (const cfg of ["gzip", "gzipnocache"]) {
    for (let i = 0; i < 2; i++) {
      const r = await get("/page.html", { "Accept-Encoding": "gzip" }, cfg);
      assert.equal(r.status, 200);
      assert.equal(r.header("content-encoding"), "gzip");
      assert.equal(r.header("vary"), "Accept-Encoding");
      assert.equal(r.header("etag"), "W/" + ETAG(fx.page.length));
      assert.equal(r.header("accept-ranges"), null);
      assert.equal(gunzipSync(r.body).toString(), fx.page);
    }
    const ranged = await get("/page.html", { "Accept-Encoding": "gzip", Range: "bytes=0-9" }, cfg);
    assert.equal(ranged.status, 200); // never a gzipped range: the Range is ignored, as nginx
    assert.equal(gunzipSync(ranged.body).toString(), fx.page);
    const nm = await get(
      "/page.html",
      { "Accept-Encoding": "gzip", "If-None-Match": ETAG(fx.page.length) },
      cfg,
    );
    assert.equal(nm.status, 304);
    const id = await get("/page.html", {}, cfg);
    assert.equal(id.header("content-encoding"), null);
    assert.equal(id.header("etag"), ETAG(fx.page.length));
    assert.equal(id.body.toString(), fx.page);
  }
  const big = await get("/big.txt", { "Accept-Encoding": "gzip" }, "gzipnocache");
  assert.equal(big.header("transfer-encoding"), "chunked");
  assert.equal(gunzipSync(big.body).toString(), readFileSync(join(fx.root, "big.txt"), "utf8"));
  const png = await get("/big.bin", { "Accept-Encoding": "gzip" }, "gzip");
  assert.equal(png.header("content-encoding"), null);
});

void test("charset and types", async () => {
  assert.equal(
    (await get("/index.html", {}, "charset")).header("content-type"),
    "text/html; charset=utf-8",
  );
  assert.equal((await get("/style.css", {}, "charset")).header("content-type"), "text/css");
});

void test("dotfiles are hidden unless configured; .well-known is served", async () => {
  for (const p of ["/.env", "/.git/config", "/.git/", "/nodir/../.env"]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.ok(!r.raw.includes(SECRET));
  }
  assert.equal((await get("/.well-known/x.txt")).body.toString(), "well known\n");
  assert.equal((await get("/.env", {}, "dotfiles")).body.toString(), SECRET);
});

void test("symlinks: inside followed, outside refused unless disable_symlinks off; refuse = on", async () => {
  assert.equal((await get("/link-in")).body.toString(), fx.hello);
  for (const cfg of ["default", "nocache"]) {
    const out = await get("/link-out", {}, cfg);
    assert.equal(out.status, 403);
    assert.ok(!out.raw.includes(SECRET));
    const dir = await get("/linkdir-out/secret.txt", {}, cfg);
    assert.equal(dir.status, 403);
    assert.ok(!dir.raw.includes(SECRET));
    assert.equal((await get("/linkdir-out", {}, cfg)).status, 403);
  }
  assert.equal((await get("/link-in", {}, "refuse")).status, 403);
  assert.equal((await get("/hello.txt", {}, "refuse")).status, 200);
  assert.equal((await get("/link-out", {}, "follow")).body.toString(), SECRET);
});

void test("special files: a FIFO is a 404 and never blocks the server", async () => {
  const fifo = join(fx.root, "pipe.txt");
  execFileSync("mkfifo", [fifo]);
  try {
    for (const cfg of ["default", "nocache"]) {
      const r = await get("/pipe.txt", {}, cfg);
      assert.equal(r.status, 404);
    }
    assert.equal((await get("/hello.txt")).status, 200);
  } finally {
    unlinkSync(fifo);
  }
});

void test("traversal attempts never read outside root/alias", async () => {
  const attempts: Array<[string, string]> = [
    ["/../secret.txt", "default"],
    ["/../../../../etc/passwd", "default"],
    ["/%2e%2e/secret.txt", "default"],
    ["/%2E%2E/secret.txt", "default"],
    ["/..%2fsecret.txt", "default"],
    ["/%2e%2e%2fsecret.txt", "default"],
    ["/dir/..%2f..%2fsecret.txt", "default"],
    ["/dir/%2e%2e/%2e%2e/secret.txt", "default"],
    ["/.%2e/secret.txt", "default"],
    ["/..;/secret.txt", "default"],
    ["/hello.txt%00.html", "default"],
    ["/%00", "default"],
    ["/..%5csecret.txt", "default"],
    ["/..\\secret.txt", "default"],
    ["/%5c..%5csecret.txt", "default"],
    ["/%252e%252e/secret.txt", "default"],
    ["/%c0%ae%c0%ae/secret.txt", "default"],
    ["/%", "default"],
    ["/%zz", "default"],
    ["/link-out", "default"],
    ["/linkdir-out/secret.txt", "default"],
    ["/static../secret.txt", "alias"],
    ["/static..%2fsecret.txt", "alias"],
    ["/static%2e%2e/secret.txt", "alias"],
    ["/static/../secret.txt", "alias"],
    ["/static/..%2fsecret.txt", "alias"],
    ["/static/%2e%2e/secret.txt", "alias"],
    ["/static/..%5csecret.txt", "alias"],
    ["/static..", "alias"],
    ["/static.../secret.txt", "alias"],
  ];
  for (const [p, cfg] of attempts) {
    const [r] = await exchange(
      port,
      `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Test: ${cfg}\r\nConnection: close\r\n\r\n`,
    );
    assert.ok(
      r !== undefined && [400, 403, 404].includes(r.status),
      `${p} (${cfg}) → ${r?.status}`,
    );
    assert.ok(!r.raw.includes(SECRET), `${p} leaked the secret`);
  }
  // the alias itself still works
  assert.equal((await get("/static/app.css", {}, "alias")).body.toString(), "body{}\n");
  // the bare standalone handler (its own decoder) refuses the same shapes
  for (const p of [
    "/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%00",
    "/.env",
    "/link-out",
    "/..%5csecret.txt",
  ]) {
    const [r] = await exchange(
      standalone.port,
      `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.ok(
      r !== undefined && [400, 403, 404].includes(r.status),
      `standalone ${p} → ${r?.status}`,
    );
    assert.ok(!r.raw.includes(SECRET));
  }
  assert.equal((await request(standalone.port, "GET", "/hello.txt")).body.toString(), fx.hello);
});

void test("the cache revalidates by stat: new content, new validators, symlink swaps refused", async () => {
  const p = join(fx.root, "hot.txt");
  const get1 = (path: string) => get(path, {}, "turn");
  writeFileSync(p, "version-1");
  utimesSync(p, 1_700_000_000, 1_700_000_000);
  assert.equal((await get1("/hot.txt")).body.toString(), "version-1");
  writeFileSync(p, "version-2"); // same size, new mtime
  utimesSync(p, 1_700_000_500, 1_700_000_500);
  const r = await get1("/hot.txt");
  assert.equal(r.body.toString(), "version-2");
  assert.equal(r.header("etag"), `"${(1_700_000_500).toString(16)}-9"`);
  unlinkSync(p);
  assert.equal((await get1("/hot.txt")).status, 404);
  symlinkSync("../secret.txt", p);
  const swapped = await get1("/hot.txt");
  assert.equal(swapped.status, 403);
  assert.ok(!swapped.raw.includes(SECRET));
  unlinkSync(p);
});

void test("by default a cached file is revalidated at most once a second (open_file_cache_valid)", async () => {
  const p = join(fx.root, "warm.txt");
  writeFileSync(p, "version-1");
  utimesSync(p, 1_700_000_000, 1_700_000_000);
  assert.equal((await get("/warm.txt")).body.toString(), "version-1");
  writeFileSync(p, "version-2");
  utimesSync(p, 1_700_000_500, 1_700_000_500);
  // Within the second: the revalidated entry is served as it was.
  const stale = await get("/warm.txt");
  assert.equal(stale.body.toString(), "version-1");
  assert.equal(stale.header("etag"), `"${(1_700_000_000).toString(16)}-9"`);
  await new Promise((r) => setTimeout(r, 1100));
  const fresh = await get("/warm.txt");
  assert.equal(fresh.body.toString(), "version-2");
  assert.equal(fresh.header("etag"), `"${(1_700_000_500).toString(16)}-9"`);
  unlinkSync(p);
  symlinkSync("../secret.txt", p);
  await new Promise((r) => setTimeout(r, 1100));
  const swapped = await get("/warm.txt");
  assert.equal(swapped.status, 403);
  assert.ok(!swapped.raw.includes(SECRET));
  unlinkSync(p);
});
