// Static files, return, rewrite, try_files, error_page, access rules and headers, all
// through an nginx-syntax config over real sockets.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { get, startSite, type RunningSite } from "./harness.js";

const CONF = `
server {
  listen 127.0.0.1:PORT;
  server_name localhost;
  root DIR/www;
  index index.html;
  error_page 404 /errors/404.html;
  error_log DIR/error.log warn;
  location /errors/ { internal; }
  # The well-known misconfiguration: no trailing slash on the location, one on the alias.
  location /static { alias DIR/assets/; }
  location /files/ { alias DIR/assets/; expires 1h; add_header X-Files yes; add_header X-Always yes always; }
  location /always/ { add_header X-Files yes; add_header X-Always yes always; return 403; }
  location /spa/ { try_files $uri $uri/ /spa/index.html; }
  location /strict/ { try_files $uri $uri/ =404; }
  location /fallback/ { try_files $uri @back; }
  location @back { add_header X-Fallback named always; return 200 "from named\\n"; }
  location = /moved { return 301 /files/a.txt; }
  location /relative/ { absolute_redirect off; return 301 /files/a.txt; }
  location = /found { return 302 http://example.com/x; }
  location = /drop { return 444; }
  location = /text { default_type text/plain; return 200 "hello $arg_name\\n"; }
  location = /teapot { return 418; }
  location /rw/ {
    rewrite ^/rw/last/(.*)$ /files/$1 last;
    rewrite ^/rw/break/(.*)$ /$1 break;
    rewrite ^/rw/redir/(.*)$ /files/$1 redirect;
    rewrite ^/rw/perm/(.*)$ /files/$1 permanent;
    rewrite ^/rw/args$ /text?name=rewritten last;
    rewrite ^/rw/loop /rw/loop last;
  }
  location /private/ { allow 10.0.0.0/8; deny all; }
  location /open/ { deny 10.0.0.1; allow all; }
  location /gz/ { gzip_static on; }
  location /list/ { autoindex on; }
  location /custom/ { error_page 404 = @missing; }
  location @missing { return 200 "missing handled\\n"; }
  location /eqcode/ { error_page 404 =200 /errors/404.html; }
  location /small/ { client_max_body_size 10; return 200 "ok\\n"; }
  location /vars/ {
    set $who "$remote_addr:$server_port";
    return 200 "uri=$uri args=$args is_args=$is_args host=$host who=$who method=$request_method ru=$request_uri a=$arg_a\\n";
  }
  location ~ ^/cap/(?<first>[a-z]+)/(\\d+)$ { return 200 "named=$first num=$2\\n"; }
  location /ifconf/ {
    if ($arg_cache) { expires 1h; }
    return 200 "x\n";
  }
  location /toexternal/ { error_page 404 http://example.com/missing; }
  location /toexternal301/ { error_page 404 =301 http://example.com/gone; }
  location /fly/ { alias DIR/assets/; gzip on; gzip_types text/plain; gzip_min_length 1; charset utf-8; }
  location /typed/ { alias DIR/assets/; types { application/x-custom txt; } default_type application/x-other; }
  location /cond/ {
    if ($arg_go = yes) { return 200 "went\\n"; }
    if ($http_x_test ~* ^(abc)) { return 200 "header $1\\n"; }
    return 200 "stayed\\n";
  }
}
`;

const GZ = gzipSync(Buffer.from("console.log('hi');\n".repeat(20)));

const FILES: Record<string, string | Buffer> = {
  "www/index.html": "<h1>home</h1>\n",
  "www/errors/404.html": "custom not found\n",
  "www/dir/index.html": "dir index\n",
  "www/noindex/a.txt": "a\n",
  "www/spa/index.html": "spa\n",
  "www/strict/x.txt": "x\n",
  "www/gz/app.js": "console.log('hi');\n".repeat(20),
  "www/gz/app.js.gz": GZ,
  "www/list/one.txt": "1\n",
  "assets/a.txt": "asset a\n",
  "assets/style.css": "body { color: red }\n",
  secret: "SECRET\n",
  "assets-secret/x": "SECRET\n",
};

void describe("static files and the rewrite module through the config", () => {
  let s: RunningSite;
  const origin = (): string => `http://localhost:${s.port}`;
  before(async () => {
    s = await startSite(CONF, FILES);
  });
  after(async () => s.stop());

  void it("root + index", async () => {
    const r = await get(s.port, "/");
    assert.equal(r.status, 200);
    assert.equal(r.text, "<h1>home</h1>\n");
    assert.equal(r.header("content-type"), "text/html");
  });

  void it("a directory without its slash gets nginx's 301 (absolute)", async () => {
    const r = await get(s.port, "/dir?x=1");
    assert.equal(r.status, 301);
    assert.equal(r.header("location"), `${origin()}/dir/?x=1`);
    const r2 = await get(s.port, "/dir/");
    assert.equal(r2.text, "dir index\n");
  });

  void it("a directory without index and without autoindex is 403", async () => {
    assert.equal((await get(s.port, "/noindex/")).status, 403);
  });

  void it("error_page 404 serves the custom page with status 404; the page's location is internal", async () => {
    const r = await get(s.port, "/nope");
    assert.equal(r.status, 404);
    assert.equal(r.text, "custom not found\n");
    const r2 = await get(s.port, "/errors/404.html");
    assert.equal(r2.status, 404);
    assert.equal(r2.text, "custom not found\n");
  });

  void it("alias, types, nginx's ETag, expires, add_header", async () => {
    const r = await get(s.port, "/files/style.css");
    assert.equal(r.status, 200);
    assert.equal(r.text, "body { color: red }\n");
    assert.equal(r.header("content-type"), "text/css");
    assert.match(r.header("etag") ?? "", /^"[0-9a-f]+-14"$/);
    assert.equal(r.header("cache-control"), "max-age=3600");
    assert.ok(r.header("expires"));
    assert.equal(r.header("x-files"), "yes");
    assert.equal(r.header("x-always"), "yes");
    const again = await get(s.port, "/files/style.css", { "If-None-Match": r.header("etag")! });
    assert.equal(again.status, 304);
    assert.equal(again.header("x-files"), "yes");
  });

  void it("add_header without `always` stays off error responses", async () => {
    const r = await get(s.port, "/always/x");
    assert.equal(r.status, 403);
    assert.equal(r.header("x-always"), "yes");
    assert.equal(r.header("x-files"), null);
  });

  void it("try_files $uri $uri/ /fallback", async () => {
    assert.equal((await get(s.port, "/spa/deep/link")).text, "spa\n");
    const r = await get(s.port, "/spa/");
    assert.equal(r.status, 200);
    assert.equal(r.text, "spa\n");
  });

  void it("try_files ... =404 and a named location fallback", async () => {
    assert.equal((await get(s.port, "/strict/x.txt")).text, "x\n");
    const r = await get(s.port, "/strict/nope");
    assert.equal(r.status, 404);
    assert.equal(r.text, "custom not found\n");
    const f = await get(s.port, "/fallback/nope");
    assert.equal(f.status, 200);
    assert.equal(f.text, "from named\n");
    assert.equal(f.header("x-fallback"), "named");
  });

  void it("return 301/302 with absolute_redirect on and off, 444, text, bare code", async () => {
    const m = await get(s.port, "/moved");
    assert.equal(m.status, 301);
    assert.equal(m.header("location"), `${origin()}/files/a.txt`);
    assert.match(m.text, /301 Moved Permanently/);
    const rel = await get(s.port, "/relative/x");
    assert.equal(rel.header("location"), "/files/a.txt");
    const f = await get(s.port, "/found");
    assert.equal(f.status, 302);
    assert.equal(f.header("location"), "http://example.com/x");
    const d = await get(s.port, "/drop");
    assert.equal(d.status, 0);
    assert.ok(d.closed);
    const t = await get(s.port, "/text?name=bob");
    assert.equal(t.status, 200);
    assert.equal(t.text, "hello bob\n");
    assert.equal(t.header("content-type"), "text/plain");
    const tea = await get(s.port, "/teapot");
    assert.equal(tea.status, 418);
  });

  void it("rewrite last / break / redirect / permanent, arguments, and the 10-cycle limit", async () => {
    assert.equal((await get(s.port, "/rw/last/a.txt")).text, "asset a\n");
    assert.equal((await get(s.port, "/rw/break/index.html")).text, "<h1>home</h1>\n");
    const r = await get(s.port, "/rw/redir/a.txt");
    assert.equal(r.status, 302);
    assert.equal(r.header("location"), `${origin()}/files/a.txt`);
    const p = await get(s.port, "/rw/perm/a.txt?x=1");
    assert.equal(p.status, 301);
    assert.equal(p.header("location"), `${origin()}/files/a.txt?x=1`);
    assert.equal((await get(s.port, "/rw/args?keep=1")).text, "hello rewritten\n");
    assert.equal((await get(s.port, "/rw/loop")).status, 500);
  });

  void it("allow / deny (logged to the server's error_log)", async () => {
    assert.equal((await get(s.port, "/private/x")).status, 403);
    assert.match(
      readFileSync(join(s.dir, "error.log"), "utf8"),
      /\[ERROR\] access forbidden by rule, client: 127\.0\.0\.1, request: "GET \/private\/x HTTP\/1\.1"/,
    );
    assert.equal((await get(s.port, "/open/x")).status, 404);
  });

  void it("gzip_static serves file.gz with Vary", async () => {
    const r = await get(s.port, "/gz/app.js", { "Accept-Encoding": "gzip" });
    assert.equal(r.status, 200);
    assert.equal(r.header("content-encoding"), "gzip");
    assert.equal(r.header("vary"), "Accept-Encoding");
    assert.deepEqual(r.body, GZ);
    const plain = await get(s.port, "/gz/app.js");
    assert.equal(plain.header("content-encoding"), null);
    assert.equal(plain.text, "console.log('hi');\n".repeat(20));
  });

  void it("autoindex lists the directory", async () => {
    const r = await get(s.port, "/list/");
    assert.equal(r.status, 200);
    assert.match(r.text, /one\.txt/);
  });

  void it("error_page = @named takes the named location's status; =200 forces one", async () => {
    const r = await get(s.port, "/custom/nope");
    assert.equal(r.status, 200);
    assert.equal(r.text, "missing handled\n");
    const e = await get(s.port, "/eqcode/nope");
    assert.equal(e.status, 200);
    assert.equal(e.text, "custom not found\n");
  });

  void it("client_max_body_size per location: 413 before reading, connection closed", async () => {
    const r = await get(s.port, "/small/", {}, "POST", "x".repeat(11));
    assert.equal(r.status, 413);
    assert.ok(r.closed);
    assert.equal((await get(s.port, "/small/", {}, "POST", "x".repeat(10))).text, "ok\n");
  });

  void it("variables: $uri $args $is_args $host set, $arg_, $request_uri", async () => {
    const r = await get(s.port, "/vars/%7Ex?a=1&b=2", { Host: "Example.COM:81" });
    assert.equal(
      r.text,
      `uri=/vars/~x args=a=1&b=2 is_args=? host=example.com who=127.0.0.1:${s.port} method=GET ru=/vars/%7Ex?a=1&b=2 a=1\n`,
    );
  });

  void it("regex captures, numbered and named", async () => {
    assert.equal((await get(s.port, "/cap/abc/42")).text, "named=abc num=42\n");
  });

  void it("an if block's settings are the ones in force when it matched", async () => {
    const hit = await get(s.port, "/ifconf/?cache=1");
    assert.equal(hit.header("cache-control"), "max-age=3600");
    const miss = await get(s.port, "/ifconf/");
    assert.equal(miss.header("cache-control"), null);
  });

  void it("error_page to an absolute URL redirects (302, or the =code given)", async () => {
    const r = await get(s.port, "/toexternal/nope");
    assert.equal(r.status, 302);
    assert.equal(r.header("location"), "http://example.com/missing");
    const p = await get(s.port, "/toexternal301/nope");
    assert.equal(p.status, 301);
    assert.equal(p.header("location"), "http://example.com/gone");
  });

  void it("gzip on-the-fly with gzip_types, charset, types {} and default_type per location", async () => {
    const r = await get(s.port, "/fly/a.txt", { "Accept-Encoding": "gzip" });
    assert.equal(r.status, 200);
    assert.equal(r.header("content-encoding"), "gzip");
    assert.equal(r.header("content-type"), "text/plain; charset=utf-8");
    assert.equal(gunzipSync(r.body).toString(), "asset a\n");
    const t = await get(s.port, "/typed/a.txt");
    assert.equal(t.header("content-type"), "application/x-custom");
    const o = await get(s.port, "/typed/style.css");
    assert.equal(o.header("content-type"), "application/x-other");
  });

  void it("if conditions: compare and regex with captures", async () => {
    assert.equal((await get(s.port, "/cond/?go=yes")).text, "went\n");
    assert.equal((await get(s.port, "/cond/", { "X-Test": "ABCdef" })).text, "header ABC\n");
    assert.equal((await get(s.port, "/cond/")).text, "stayed\n");
  });

  // issue 5: none of these may read DIR/secret through `location /static { alias DIR/assets/; }`.
  const TRAVERSALS = [
    "/static../secret",
    "/static../assets-secret/x",
    "/static%2e%2e/secret",
    "/static.%2e/secret",
    "/static..%2fsecret",
    "/static/../secret",
    "/static/..%2f..%2fsecret",
    "/static/%2e%2e/%2e%2e/secret",
    "/static/..%5c..%5csecret",
    "/static..\\secret",
    "/static/a.txt%00.css",
    "/static/%252e%252e/secret",
    "/static//../../secret",
  ];
  for (const t of TRAVERSALS) {
    void it(`traversal ${t} does not escape the alias`, async () => {
      const r = await get(s.port, t);
      assert.ok([400, 403, 404].includes(r.status), `status ${r.status}`);
      assert.doesNotMatch(r.text, /SECRET/);
    });
  }

  void it("the misconfigured alias still serves what is inside it", async () => {
    const r = await get(s.port, "/static/a.txt");
    assert.equal(r.status, 200);
    assert.equal(r.text, "asset a\n");
  });
});
