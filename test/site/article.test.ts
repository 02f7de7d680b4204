// The classic deployment article's site file: an upstream, `location /` proxied with
// X-Forwarded-For and Host, `location /static/` from an alias directory. Only the
// listen port, the upstream port and the alias path differ from the article.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { get, startSite, type RunningSite } from "./harness.js";

const ARTICLE = `
upstream server_django {
    server 127.0.0.1:UPPORT;
}
server {
    listen PORT;
    location / {
        proxy_pass http://server_django;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Host $host;
        proxy_redirect off;
    }
    location /static/ {
        alias DIR/static/;
    }
}
`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

void describe("the article's site file", () => {
  let up: Server;
  let upPort = 0;
  const seen: Seen[] = [];
  let s: RunningSite;

  before(async () => {
    up = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(parts).toString(),
        });
        if (req.url === "/redirect") {
          res.writeHead(302, { Location: "http://backend.internal:8000/next" });
          res.end();
          return;
        }
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "X-App": "django" });
        res.end(`app saw ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
    const a = up.address();
    upPort = typeof a === "object" && a !== null ? a.port : 0;
    s = await startSite(ARTICLE.replace("UPPORT", String(upPort)), {
      "static/admin/css/base.css": "body { margin: 0 }\n",
      "static/js/app.js": "alert(1);\n",
    });
  });
  after(async () => {
    await s.stop();
    await new Promise<void>((r) => {
      up.close(() => {
        r();
      });
    });
  });

  void it("serves /static/ from the alias with types and nginx's ETag", async () => {
    const r = await get(s.port, "/static/admin/css/base.css");
    assert.equal(r.status, 200);
    assert.equal(r.text, "body { margin: 0 }\n");
    assert.equal(r.header("content-type"), "text/css");
    assert.match(r.header("etag") ?? "", /^"[0-9a-f]+-13"$/);
    assert.ok(r.header("last-modified"));
    const js = await get(s.port, "/static/js/app.js");
    assert.equal(js.header("content-type"), "application/javascript");
    assert.equal(seen.length, 0, "static requests never reach the app");
  });

  void it("a missing static file is nginx's 404, not the app's", async () => {
    const r = await get(s.port, "/static/nope.css");
    assert.equal(r.status, 404);
    assert.match(r.text, /404 Not Found/);
    assert.equal(seen.length, 0);
  });

  void it("proxies / with X-Forwarded-For and Host as the site file sets them", async () => {
    const r = await get(s.port, "/accounts/login/?next=/admin/", {
      Host: "shop.example.org",
      "X-Forwarded-For": "203.0.113.9",
    });
    assert.equal(r.status, 200);
    assert.equal(r.text, "app saw GET /accounts/login/?next=/admin/");
    assert.equal(r.header("x-app"), "django");
    const last = seen[seen.length - 1]!;
    assert.equal(last.url, "/accounts/login/?next=/admin/");
    assert.equal(last.headers["host"], "shop.example.org");
    assert.equal(last.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    // nginx's proxy defaults: HTTP/1.0 upstream, Connection: close.
    assert.equal(last.headers["connection"], "close");
  });

  void it("passes a POST body through", async () => {
    const r = await get(
      s.port,
      "/form/",
      { "Content-Type": "application/x-www-form-urlencoded" },
      "POST",
      "a=1&b=2",
    );
    assert.equal(r.status, 200);
    const last = seen[seen.length - 1]!;
    assert.equal(last.method, "POST");
    assert.equal(last.body, "a=1&b=2");
  });

  void it("proxy_redirect off leaves the upstream's Location as it is", async () => {
    const r = await get(s.port, "/redirect");
    assert.equal(r.status, 302);
    assert.equal(r.header("location"), "http://backend.internal:8000/next");
  });

  void it("an upstream that is down gives nginx's 502", async () => {
    const port = upPort;
    await new Promise<void>((r) => {
      up.close(() => {
        r();
      });
    });
    try {
      const r = await get(s.port, "/anything");
      assert.equal(r.status, 502);
      assert.match(r.text, /502 Bad Gateway/);
    } finally {
      await new Promise<void>((r) => up.listen(port, "127.0.0.1", r));
    }
  });
});
