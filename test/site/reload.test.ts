// SiteServer.reload in process: listeners follow the new listen groups, a socket whose
// limits changed is rebound, and a config that cannot bind keeps the old one in force.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { loadNginxConfig } from "../../src/config/nginx/index.js";
import { freePort, get, startSite, type RunningSite } from "./harness.js";
import { RawClient } from "../helpers/raw.js";

const conf = (port: number, text: string, extra = ""): string =>
  `events {}\nhttp { server { listen 127.0.0.1:${port}; ${extra} location / { return 200 "${text}\\n"; } } }\n`;

async function refused(port: number): Promise<boolean> {
  try {
    await get(port, "/");
    return false;
  } catch {
    return true;
  }
}

void describe("reload", () => {
  let s: RunningSite | null = null;
  after(async () => s?.stop());

  void it("moves to new sockets, rebinds on changed limits, keeps the old config when binding fails", async () => {
    s = await startSite(conf(0, "one").replace("127.0.0.1:0", "127.0.0.1:PORT"));
    const a = s.port;
    assert.equal((await get(a, "/")).text, "one\n");

    const b = await freePort();
    const path = join(s.dir, "two.conf");
    writeFileSync(path, conf(b, "two"));
    await s.server.reload(loadNginxConfig(path));
    assert.equal((await get(b, "/")).text, "two\n");
    assert.ok(await refused(a), "the old socket is closed");

    // Same socket, new limits: keepalive_requests 1 closes after the first response.
    writeFileSync(path, conf(b, "three", "keepalive_requests 1;"));
    await s.server.reload(loadNginxConfig(path));
    const c = await RawClient.connect(b);
    try {
      await c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const r = await c.response(0, 2000);
      assert.equal(r.text, "three\n");
      assert.equal(r.header("connection"), "close");
    } finally {
      c.destroy();
    }

    // A port someone else holds: the reload fails and the running config stays.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const addr = blocker.address();
    const busy = typeof addr === "object" && addr !== null ? addr.port : 0;
    try {
      writeFileSync(path, conf(busy, "four"));
      await assert.rejects(s.server.reload(loadNginxConfig(path)), /cannot listen/);
      assert.equal((await get(b, "/")).text, "three\n");
    } finally {
      await new Promise<void>((r) => {
        blocker.close(() => {
          r();
        });
      });
    }
  });
});
