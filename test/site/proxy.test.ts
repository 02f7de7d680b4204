// proxy_pass through the config: retries across an upstream, a URI part replacing the
// location prefix, proxy_redirect default (made absolute), proxy_intercept_errors with
// error_page, and set_real_ip_from feeding $remote_addr and allow/deny.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { freePort, get, startSite, type RunningSite } from "./harness.js";

const CONF = `
log_format up '$proxy_host|$proxy_port|$upstream_addr|$upstream_status|$upstream_response_time|$status';
upstream pair { server 127.0.0.1:DEAD; server 127.0.0.1:UP; }
server {
  listen 127.0.0.1:PORT;
  server_name localhost;
  set_real_ip_from 127.0.0.1;
  real_ip_header X-Forwarded-For;
  location /pair/ { proxy_pass http://pair; }
  location /api/ { proxy_pass http://127.0.0.1:UP/v2/; access_log DIR/proxy.log up; }
  location /intercept/ { proxy_pass http://127.0.0.1:UP; proxy_intercept_errors on; error_page 404 = @nf; }
  location @nf { return 200 "intercepted\\n"; }
  location /plain404/ { proxy_pass http://127.0.0.1:UP; error_page 404 = @nf; }
  location /down/ { proxy_pass http://127.0.0.1:DEAD; error_page 502 504 /50x.html; }
  location = /50x.html { root DIR/www; }
  location /realip/ { return 200 "$remote_addr\\n"; }
  location /deny/ { deny 198.51.100.7; proxy_pass http://127.0.0.1:UP; }
}
`;

void describe("proxy_pass through the config", () => {
  let up: Server;
  let s: RunningSite;
  const urls: string[] = [];
  before(async () => {
    up = createServer((req, res) => {
      urls.push(req.url ?? "");
      if (req.url?.endsWith("/redir")) {
        res.writeHead(302, { Location: `http://127.0.0.1:${upPort()}/v2/next` });
        res.end();
      } else if (req.url?.includes("missing")) {
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end("upstream 404\n");
      } else {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end(`up ${req.url ?? ""}\n`);
      }
    });
    await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
    const dead = await freePort();
    s = await startSite(CONF, { "www/50x.html": "sorry, down\n" }, "critical", {
      DEAD: String(dead),
      UP: String(upPort()),
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
  function upPort(): number {
    const a = up.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  void it("a refused server is passed over to the next one (proxy_next_upstream error)", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await get(s.port, `/pair/${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.text, `up /pair/${i}\n`);
    }
  });

  void it("a URI part replaces the location prefix; proxy_redirect default maps Location back", async () => {
    const r = await get(s.port, "/api/items?x=1");
    assert.equal(r.text, "up /v2/items?x=1\n");
    const line = readFileSync(join(s.dir, "proxy.log"), "utf8").trim().split("\n")[0]!;
    assert.match(
      line,
      new RegExp(
        `^127\\.0\\.0\\.1:${upPort()}\\|${upPort()}\\|127\\.0\\.0\\.1:${upPort()}\\|200\\|\\d+\\.\\d{3}\\|200$`,
      ),
    );
    const red = await get(s.port, "/api/redir");
    assert.equal(red.status, 302);
    assert.equal(red.header("location"), `http://localhost:${s.port}/api/next`);
  });

  void it("a proxied prefix location ending in / redirects the URI without it (nginx's auto_redirect)", async () => {
    const r = await get(s.port, "/api?q=1");
    assert.equal(r.status, 301);
    assert.equal(r.header("location"), `http://localhost:${s.port}/api/?q=1`);
  });

  void it("proxy_intercept_errors hands upstream errors to error_page; without it they pass through", async () => {
    const i = await get(s.port, "/intercept/missing");
    assert.equal(i.status, 200);
    assert.equal(i.text, "intercepted\n");
    const p = await get(s.port, "/plain404/missing");
    assert.equal(p.status, 404);
    assert.equal(p.text, "upstream 404\n");
  });

  void it("error_page 502 serves a custom page with status 502 when the upstream is down", async () => {
    const r = await get(s.port, "/down/x");
    assert.equal(r.status, 502);
    assert.equal(r.text, "sorry, down\n");
  });

  void it("set_real_ip_from + real_ip_header: $remote_addr and allow/deny see the client", async () => {
    assert.equal(
      (await get(s.port, "/realip/", { "X-Forwarded-For": "203.0.113.5" })).text,
      "203.0.113.5\n",
    );
    assert.equal((await get(s.port, "/realip/")).text, "127.0.0.1\n");
    assert.equal((await get(s.port, "/deny/x", { "X-Forwarded-For": "198.51.100.7" })).status, 403);
    assert.equal((await get(s.port, "/deny/x", { "X-Forwarded-For": "198.51.100.8" })).status, 200);
  });
});
