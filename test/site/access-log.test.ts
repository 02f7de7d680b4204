// nginx's access_log / log_format: the predefined `combined` format exactly, a custom
// format with escaping, `if=`, and `access_log off` in a location.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { get, startSite, type RunningSite } from "./harness.js";
import { escapeDefault } from "../../src/site/index.js";
import { timeIso8601, timeIso8601Now, timeLocal, timeLocalNow } from "../../src/site/time.js";

const CONF = `
events {}
http {
  log_format custom '$request_method|$uri|$args|$status|$body_bytes_sent|$http_x_note|$upstream_addr|$connection_requests';
  log_format times '$msec|$time_iso8601|$request_time|$connection|$connection_requests|$document_root|$realpath_root|$request_length|$bytes_sent|$server_protocol|$request_uri|$remote_port';
  log_format js escape=json '{"ua":"$http_user_agent","s":$status}';
  access_log DIR/combined.log;
  access_log DIR/custom.log custom;
  server {
    listen 127.0.0.1:PORT;
    root DIR/www;
    location /times/ { access_log DIR/times.log times; root DIR/www/../www; return 200 "t\n"; }
    location /quiet/ { access_log off; return 204; }
    location /json/ { access_log DIR/json.log js; access_log DIR/cond.log custom if=$arg_log; return 200 "j\\n"; }
  }
}
`;

async function settle(): Promise<void> {
  // The log line is written as the handler finishes, right after the response.
  await new Promise((r) => setTimeout(r, 50));
}

void describe("access_log and log_format", () => {
  let s: RunningSite;
  before(async () => {
    s = await startSite(CONF, { "www/index.html": "home\n" });
  });
  after(async () => s.stop());

  void it("writes the combined format exactly", async () => {
    await get(s.port, "/index.html?x=1", { Referer: "http://ref/", "User-Agent": 'curl "7"' });
    await settle();
    const lines = readFileSync(join(s.dir, "combined.log"), "utf8").trim().split("\n");
    const line = lines[lines.length - 1]!;
    const m =
      /^127\.0\.0\.1 - - \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "GET \/index\.html\?x=1 HTTP\/1\.1" 200 5 "http:\/\/ref\/" "curl \\x227\\x22"$/.exec(
        line,
      );
    assert.ok(m, line);
  });

  void it("a custom format: absent variables are '-', empty ones empty", async () => {
    const r = await get(s.port, "/nope", { "X-Note": "n\u00e9" });
    await settle();
    const lines = readFileSync(join(s.dir, "custom.log"), "latin1").trim().split("\n");
    assert.equal(lines[lines.length - 1], `GET|/nope||404|${r.body.length}|n\\xE9|-|1`);
  });

  void it("access_log off in a location; escape=json; if=", async () => {
    const before = readFileSync(join(s.dir, "combined.log"), "utf8");
    await get(s.port, "/quiet/");
    await get(s.port, "/json/", { "User-Agent": 'say "hi"\\' });
    await get(s.port, "/json/?log=1");
    await settle();
    assert.equal(readFileSync(join(s.dir, "combined.log"), "utf8"), before);
    const js = readFileSync(join(s.dir, "json.log"), "utf8").trim().split("\n");
    assert.deepEqual(JSON.parse(js[0]!), { ua: 'say "hi"\\', s: 200 });
    const cond = readFileSync(join(s.dir, "cond.log"), "utf8").trim().split("\n");
    assert.equal(cond.length, 1);
    assert.match(cond[0]!, /^GET\|\/json\/\|log=1\|200\|/);
  });

  void it("time, connection, path and size variables", async () => {
    const t0 = Date.now() / 1000;
    const r = await get(s.port, "/times/?q=1", { "X-Pad": "p" });
    await settle();
    const line = readFileSync(join(s.dir, "times.log"), "utf8").trim();
    const f = line.split("|");
    assert.equal(f.length, 12, line);
    assert.ok(Math.abs(Number(f[0]) - t0) < 5 && /^\d+\.\d{3}$/.test(f[0]!), f[0]);
    assert.match(f[1]!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    assert.match(f[2]!, /^\d+\.\d{3}$/);
    assert.match(f[3]!, /^\d+$/);
    assert.equal(f[4], "1");
    assert.equal(f[5], `${s.dir}/www/../www`);
    assert.equal(f[6], realpathSync(join(s.dir, "www")));
    const head =
      "GET /times/?q=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: p\r\n\r\n";
    assert.equal(f[7], String(head.length));
    assert.equal(Number(f[8]) > r.body.length, true);
    assert.equal(f[9], "HTTP/1.1");
    assert.equal(f[10], "/times/?q=1");
    assert.match(f[11]!, /^\d+$/);
  });

  void it("default escaping writes quotes, backslashes, controls and non-ASCII as \\xHH", () => {
    assert.equal(escapeDefault('a"b\\c\x01\u00ff\u20ac'), "a\\x22b\\x5Cc\\x01\\xFF\\xE2\\x82\\xAC");
    // Printable ASCII passes as it is; the first byte to escape may come late or last.
    const plain = "Mozilla/5.0 (X11; Linux x86_64) ~!#$%&'()*+,-./:;<=>?@[]^_`{|}";
    assert.equal(escapeDefault(plain), plain);
    assert.equal(escapeDefault(""), "");
    assert.equal(escapeDefault(plain + "\x7f"), plain + "\\x7F");
    assert.equal(escapeDefault("\tx"), "\\x09x");
  });
});

void it("an access log that cannot be opened stops startup with nginx's open() message", async () => {
  await assert.rejects(
    startSite("server { listen 127.0.0.1:PORT; access_log DIR/no/such/dir/a.log; }"),
    /open\(\) ".*\/no\/such\/dir\/a\.log" failed \(ENOENT\)/,
  );
});

void it("$time_local and $time_iso8601 are formatted once per second, and right", () => {
  for (let tries = 0; tries < 5; tries++) {
    const before = Math.floor(Date.now() / 1000);
    const local = timeLocalNow();
    const iso = timeIso8601Now();
    const d = new Date();
    if (Math.floor(d.getTime() / 1000) !== before) continue; // a second boundary passed
    assert.equal(local, timeLocal(d));
    assert.equal(iso, timeIso8601(d));
    assert.equal(timeLocalNow(), local);
    return;
  }
  assert.fail("no stable second in five tries");
});
