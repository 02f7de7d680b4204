// nginx's warning when a failure takes an upstream server out of rotation, written to the
// location's error_log through a whole site on real sockets.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import { get, startSite, type RunningSite } from "../site/harness.js";
import { deadPort } from "./helpers.js";

const CONF = `
events {}
http {
  upstream pair { server 127.0.0.1:DEAD max_fails=2; server 127.0.0.1:UP; }
  upstream solo { server 127.0.0.1:DEAD; }
  upstream other { server 127.0.0.1:DEAD; server 127.0.0.1:UP; }
  server {
    listen 127.0.0.1:PORT;
    location /pair/ { proxy_pass http://pair; error_log DIR/pair.log warn; }
    location /solo/ { proxy_pass http://solo; error_log DIR/solo.log warn; }
    location /quiet/ { proxy_pass http://other; error_log DIR/quiet.log error; }
  }
}
`;

const WARN =
  /\[WARNING\] upstream server temporarily disabled while connecting to upstream, client: 127\.0\.0\.1, request: "GET \/pair\/\d HTTP\/1\.1", upstream: "http:\/\/127\.0\.0\.1:\d+\/pair\/\d"/;

void describe("upstream server temporarily disabled (error_log warn)", () => {
  let up: Server;
  let s: RunningSite;
  let dead = 0;
  before(async () => {
    up = createServer((req, res) => {
      res.end(`up ${req.url ?? ""}\n`);
    });
    await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
    const a = up.address();
    const upPort = typeof a === "object" && a !== null ? a.port : 0;
    dead = await deadPort();
    s = await startSite(CONF, {}, "critical", { DEAD: String(dead), UP: String(upPort) });
  });
  after(async () => {
    await s.stop();
    await new Promise<void>((r) => {
      up.close(() => {
        r();
      });
    });
  });

  void it("is logged once the refused server reaches max_fails, after the connect error", async () => {
    const log = (): string[] =>
      readFileSync(join(s.dir, "pair.log"), "utf8").split("\n").filter(Boolean);
    // Round robin alternates: the refused server is tried on every other request.
    for (let i = 0; i < 4; i++) {
      const r = await get(s.port, `/pair/${i}`);
      assert.equal(r.status, 200);
    }
    const lines = log();
    const errors = lines.filter((l) => l.includes("[ERROR]"));
    const warns = lines.filter((l) => l.includes("[WARNING]"));
    // Two failures reach max_fails=2: one warning, after the second connect error.
    assert.equal(errors.length, 2, lines.join("\n"));
    assert.equal(warns.length, 1, lines.join("\n"));
    assert.match(warns[0]!, WARN);
    assert.ok(warns[0]!.includes(`127.0.0.1:${dead}`));
    assert.ok(lines.indexOf(warns[0]!) > lines.indexOf(errors[1]!));
    // Disabled now: the next requests go to the live server without another try.
    for (let i = 4; i < 8; i++) assert.equal((await get(s.port, `/pair/${i}`)).status, 200);
    assert.equal(log().length, lines.length);
  });

  void it("a lone server is never disabled (nginx peers->single): no warning", async () => {
    assert.equal((await get(s.port, "/solo/x")).status, 502);
    const text = readFileSync(join(s.dir, "solo.log"), "utf8");
    assert.match(text, /\[ERROR\] .* while connecting to upstream/);
    assert.doesNotMatch(text, /temporarily disabled/);
  });

  void it("follows the location's error_log level (error hides the warning)", async () => {
    for (let i = 0; i < 2; i++) assert.equal((await get(s.port, `/quiet/${i}`)).status, 200);
    const text = readFileSync(join(s.dir, "quiet.log"), "utf8");
    assert.match(text, /\[ERROR\] .* while connecting to upstream/);
    assert.doesNotMatch(text, /temporarily disabled/);
  });
});
