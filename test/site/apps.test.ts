// startApps: the one-process mode's worker pools, booted from app specs and reached by
// name (what `app_pass NAME` resolves through), over a real socket and real Python workers.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { LineSink, Logger } from "../../src/core/log.js";
import { HttpServer } from "../../src/http/server.js";
import { appSpecsOf, startApps, type RunningApps, type SiteAppSpec } from "../../src/serve-site.js";
import { loadNginxConfig } from "../../src/config/nginx/index.js";
import { rawRequest } from "../helpers/raw.js";

const ROOT = repoRoot();
const PYTHON = existsSync(join(ROOT, ".venv/bin/python"))
  ? join(ROOT, ".venv/bin/python")
  : "python3";

const spec = (over: Partial<SiteAppSpec>): SiteAppSpec => ({
  name: "echo",
  module: "echo:app",
  workers: 1,
  threads: 2,
  chdir: join(ROOT, "test", "apps"),
  pythonpath: null,
  rawEnv: ["SITE_APP=yes"],
  python: PYTHON,
  maxQueue: 16,
  bodyBufferSize: 65536,
  ...over,
});

void describe("startApps (one-process mode)", () => {
  const log = new Logger(new LineSink("-"), "critical");
  let apps: RunningApps;
  let server: HttpServer;
  before(async () => {
    apps = await startApps([spec({})], log);
    const h = apps.resolve("echo");
    assert.ok(h);
    server = new HttpServer({ handler: h, logger: log });
    await server.listen(["127.0.0.1:0"]);
  });
  after(async () => {
    await server.drain(500);
    await apps.stop(false, 0);
  });

  void it("resolves a name to the app's gateway handler, and nothing else", async () => {
    assert.equal(apps.resolve("nope"), null);
    const port = server.address()[0]!.port;
    const r = await rawRequest(
      port,
      "POST /x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
      { count: 1, timeoutMs: 10_000 },
    );
    const res = r.responses[0]!;
    assert.equal(res.status, 200);
    const env = JSON.parse(res.text) as Record<string, string>;
    assert.equal(env["PATH_INFO"], "/x");
    assert.equal(env["QUERY_STRING"], "y=1");
    assert.equal(Buffer.from(env["body_base64"]!, "base64").toString(), "abc");
  });

  void it("a module that cannot be imported fails the start", async () => {
    await assert.rejects(startApps([spec({ name: "broken", module: "broken_import:app" })], log));
  });
});

void it("HUP plan: prepare boots new and re-optioned pools, commit swaps them in, a boot failure changes nothing", async () => {
  const log = new Logger(new LineSink("-"), "critical");
  const apps = await startApps([spec({ name: "a" }), spec({ name: "b" })], log);
  const server = new HttpServer({
    handler: (req, res) => {
      const h = apps.resolve(req.path.slice(1));
      if (h === null) {
        res.writeHead(404, [["Content-Length", "0"]]);
        res.end();
        return;
      }
      return h(req, res);
    },
    logger: log,
  });
  await server.listen(["127.0.0.1:0"]);
  const port = server.address()[0]!.port;
  const status = async (path: string): Promise<number> =>
    (
      await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, {
        count: 1,
        timeoutMs: 10_000,
      })
    ).responses[0]!.status;
  try {
    const a0 = apps.resolve("a")!;
    const b0 = apps.resolve("b")!;
    // A module that cannot load: rejected, and nothing changed.
    await assert.rejects(
      apps.prepare([spec({ name: "a" }), spec({ name: "x", module: "broken_import:app" })]),
    );
    assert.equal(apps.resolve("a"), a0);
    assert.equal(apps.resolve("x"), null);

    // a: max_queue changed (a new pool); b: removed; c: new.
    const plan = await apps.prepare([spec({ name: "a", maxQueue: 3 }), spec({ name: "c" })]);
    assert.equal(apps.resolve("c"), null, "nothing is swapped before commit");
    assert.equal(apps.resolve("b"), b0);
    plan.commit();
    assert.equal(apps.resolve("b"), null);
    assert.notEqual(apps.resolve("a"), a0);
    assert.equal(await status("/a"), 200);
    assert.equal(await status("/c"), 200);
    assert.equal(await status("/b"), 404);
    // The replaced pool drains and stops: its old handler answers 503 from then on.
    const old = new HttpServer({ handler: a0, logger: log });
    await old.listen(["127.0.0.1:0"]);
    try {
      const oldPort = old.address()[0]!.port;
      let last = 0;
      for (let i = 0; i < 50 && last !== 503; i++) {
        last = (
          await rawRequest(oldPort, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", {
            count: 1,
            timeoutMs: 10_000,
          })
        ).responses[0]!.status;
        if (last !== 503) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(last, 503);
    } finally {
      await old.drain(0);
    }
  } finally {
    await server.drain(0);
    await apps.stop(false, 0);
  }
});

void it("appSpecsOf reads the config's app blocks, with the settings table's defaults", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-apps-"));
  const file = join(dir, "site.conf");
  writeFileSync(
    file,
    `app django {
    module lifecycle.wsgi:application;
    workers 4;
    chdir /srv/app;
    env A=1;
    timeout 10;
    preload on;
}
app hello { module hello_world:process_http_request; }
server { listen 127.0.0.1:1; location / { app_pass django; } }
`,
  );
  const specs = appSpecsOf(loadNginxConfig(file));
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(specs, [
    {
      name: "django",
      module: "lifecycle.wsgi:application",
      workers: 4,
      threads: 1,
      chdir: "/srv/app",
      pythonpath: null,
      rawEnv: ["A=1"],
      python: null,
      maxQueue: 1024,
      bodyBufferSize: 1048576,
      bodyTempDir: null,
      timeoutMs: 10_000,
      gracefulTimeoutMs: 30_000,
      maxRequests: 0,
      maxRequestsJitter: 0,
      preload: true,
      procName: null,
      user: null,
      group: null,
      reload: false,
      forwardedAllowIps: "127.0.0.1,::1",
    },
    {
      name: "hello",
      module: "hello_world:process_http_request",
      workers: 1,
      threads: 1,
      chdir: null,
      pythonpath: null,
      rawEnv: [],
      python: null,
      maxQueue: 1024,
      bodyBufferSize: 1048576,
      bodyTempDir: null,
      timeoutMs: 30_000,
      gracefulTimeoutMs: 30_000,
      maxRequests: 0,
      maxRequestsJitter: 0,
      preload: false,
      procName: null,
      user: null,
      group: null,
      reload: false,
      forwardedAllowIps: "127.0.0.1,::1",
    },
  ]);
});
