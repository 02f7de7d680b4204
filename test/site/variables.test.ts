// Every built-in variable the config layer accepts has a value in a request (through a
// log_format naming all of them); the ones that can be absent are listed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VARIABLES } from "../../src/config/nginx/index.js";
import { get, startSite, type RunningSite } from "./harness.js";

/** Absent in a plain GET that is not proxied and carries no credentials or body. */
const MAY_BE_ABSENT = new Set([
  "remote_user",
  "content_type",
  "content_length",
  "request_body",
  "proxy_host",
  "proxy_port",
  "upstream_addr",
  "upstream_status",
  "upstream_response_time",
]);

void describe("variables", () => {
  let s: RunningSite;
  before(async () => {
    const fmt = VARIABLES.map((v) => `$${v}`).join("|");
    s = await startSite(
      `events {}
http {
  log_format all '${fmt}';
  server {
    listen 127.0.0.1:PORT;
    root DIR/www;
    location / { access_log DIR/all.log all; }
  }
}
`,
      { "www/index.html": "x\n" },
    );
  });
  after(async () => s.stop());

  void it("every variable in VARIABLES has a value (or is one that may be absent)", async () => {
    const r = await get(s.port, "/index.html?a=1", { "X-Forwarded-For": "198.51.100.1" });
    assert.equal(r.status, 200);
    await new Promise((res) => setTimeout(res, 50));
    const fields = readFileSync(join(s.dir, "all.log"), "utf8").trim().split("|");
    assert.equal(fields.length, VARIABLES.length);
    const missing = VARIABLES.filter((v, i) => fields[i] === "-" && !MAY_BE_ABSENT.has(v));
    assert.deepEqual(missing, []);
    const at = (name: string): string => fields[VARIABLES.indexOf(name)]!;
    assert.equal(at("uri"), "/index.html");
    assert.equal(at("args"), "a=1");
    assert.equal(at("status"), "200");
    assert.equal(at("body_bytes_sent"), "2");
    assert.equal(at("request_filename"), join(s.dir, "www/index.html"));
    assert.equal(at("proxy_add_x_forwarded_for"), "198.51.100.1, 127.0.0.1");
    assert.equal(at("pid"), String(process.pid));
  });
});
