// Virtual servers and listeners: Host-based choice (exact, wildcards, regex with
// captures, default_server), several ports, a wildcard socket serving a specific
// address's group, a unix socket, and per-listener limits from the config.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, get, startSite, type RunningSite } from "./harness.js";
import { RawClient, rawRequest } from "../helpers/raw.js";

const who = (name: string): string =>
  `add_header X-Server ${name} always; return 200 "$server_name|$host|$server_port\\n";`;

const CONF = `
events {}
http {
  server { listen PORT; server_name first.test; location / { ${who("first")} } }
  server { listen PORT default_server; server_name dflt.test; location / { ${who("default")} } }
  server { listen PORT; server_name *.wild.test; location / { ${who("leading-wildcard")} } }
  server { listen PORT; server_name www.example.*; location / { ${who("trailing-wildcard")} } }
  server { listen PORT; server_name ~^(?<sub>[a-z]+)\\.re\\.test$; location / { add_header X-Server regex always; return 200 "sub=$sub\\n"; } }
  server { listen 127.0.0.2:PORT; server_name loop2.test; location / { ${who("address-group")} } }
  server {
    listen 127.0.0.1:SECOND;
    listen unix:DIR/site.sock;
    server_name other.test;
    server_tokens off;
    keepalive_requests 2;
    large_client_header_buffers 2 256;
    client_header_timeout 300ms;
    location / { ${who("second")} }
  }
}
`;

void describe("virtual servers and listeners", () => {
  let s: RunningSite;
  let second = 0;
  before(async () => {
    second = await freePort();
    s = await startSite(CONF, {}, "critical", { SECOND: String(second) });
  });
  after(async () => s.stop());

  const TABLE: Array<[string, string]> = [
    ["first.test", "first"],
    ["FIRST.test.", "first"],
    ["first.test:8080", "first"],
    ["a.b.wild.test", "leading-wildcard"],
    ["www.example.org", "trailing-wildcard"],
    ["abc.re.test", "regex"],
    ["unknown.test", "default"],
  ];
  for (const [host, want] of TABLE) {
    void it(`Host: ${host} → ${want}`, async () => {
      const r = await get(s.port, "/", { Host: host });
      assert.equal(r.status, 200);
      assert.equal(r.header("x-server"), want);
    });
  }

  void it("$server_name, $host and $server_port; regex server name captures", async () => {
    assert.equal(
      (await get(s.port, "/", { Host: "First.Test:99" })).text,
      `first.test|first.test|${s.port}\n`,
    );
    assert.equal((await get(s.port, "/", { Host: "xyz.re.test" })).text, "sub=xyz\n");
  });

  void it("an absolute-form target names the server, whatever Host says", async () => {
    const r = await rawRequest(
      s.port,
      "GET http://first.test:81/x HTTP/1.1\r\nHost: dflt.test\r\nConnection: close\r\n\r\n",
      { count: 1 },
    );
    assert.equal(r.responses[0]?.header("x-server"), "first");
    assert.equal(r.responses[0]?.text, `first.test|first.test|${s.port}\n`);
  });

  void it("an invalid Host is 400", async () => {
    const r = await get(s.port, "/", { Host: "bad/host" });
    assert.equal(r.status, 400);
  });

  void it("the wildcard socket serves the group of a specific address (found by local address)", async () => {
    const r = await rawRequest(
      { host: "127.0.0.2", port: s.port },
      "GET / HTTP/1.1\r\nHost: nobody.test\r\nConnection: close\r\n\r\n",
      { count: 1 },
    );
    assert.equal(r.responses[0]?.header("x-server"), "address-group");
  });

  void it("a second port and a unix socket, with their own limits (server_tokens off, keepalive_requests, large_client_header_buffers)", async () => {
    const r = await get(second, "/", { Host: "whatever" });
    assert.equal(r.header("x-server"), "second");
    assert.equal(r.header("server"), "narwhal");
    const u = await rawRequest(
      `unix:${join(s.dir, "site.sock")}`,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      { count: 1 },
    );
    assert.equal(u.responses[0]?.header("x-server"), "second");
    assert.equal(u.responses[0]?.text, "other.test|x|\n");

    const c = await RawClient.connect(second);
    try {
      await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
      const a = await c.response(0, 2000);
      const b = await c.response(1, 2000);
      assert.equal(a.status, 200);
      assert.equal(a.header("connection"), null);
      assert.equal(b.header("connection"), "close");
      assert.ok(await c.waitClose(2000));
    } finally {
      c.destroy();
    }
    const long = await rawRequest(second, `GET /${"x".repeat(300)} HTTP/1.1\r\nHost: a\r\n\r\n`, {
      count: 1,
    });
    assert.equal(long.responses[0]?.status, 414);
    // client_header_timeout: an unfinished head gets 408 and the connection closes.
    const slow = await rawRequest(second, "GET / HTTP/1.1\r\nHost: a\r\n", { timeoutMs: 3000 });
    assert.equal(slow.responses[0]?.status, 408);
    assert.ok(slow.closed);
    const first = await get(s.port, "/", { Host: "first.test" });
    assert.match(first.header("server") ?? "", /^narwhal\/\d/);
  });
});
