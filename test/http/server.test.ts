/** Listeners, worker_connections, graceful drain. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawRequest, RawClient } from "../helpers/raw.js";
import { startServer, hello, sleep } from "./util.js";
import { HttpServer } from "../../src/http/server.js";
import { parseBind } from "../../src/http/bind.js";
import { testLogger } from "../corpus/echo.js";

void test("bind syntax", () => {
  assert.deepEqual(parseBind("127.0.0.1:8080"), { kind: "tcp", host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseBind("[::]:80"), { kind: "tcp", host: "::", port: 80 });
  assert.deepEqual(parseBind("localhost"), { kind: "tcp", host: "localhost", port: 8000 });
  assert.deepEqual(parseBind("unix:/tmp/x.sock"), { kind: "unix", path: "/tmp/x.sock" });
  assert.throws(() => parseBind("::1:80"), /brackets/);
  assert.throws(() => parseBind("a:99999"), /bad port/);
});

void test("worker_connections: one more connection gets 503 and is closed; capacity returns", async () => {
  const s = await startServer(hello, {}, {}, { maxConnections: 2 });
  try {
    const a = await RawClient.connect(s.port);
    const b = await RawClient.connect(s.port);
    await sleep(30);
    const r = await rawRequest(s.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(r.responses[0]?.status, 503);
    assert.equal(r.closed, true);
    assert.equal(s.server.refusedConnections, 1);
    a.destroy();
    await sleep(50);
    const ok = await rawRequest(s.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(ok.responses[0]?.status, 200);
    b.destroy();
  } finally {
    await s.stop();
  }
});

void test("unix socket listener, and its file is removed on close", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "narwhal-sock-")), "s.sock");
  let family = "";
  const server = new HttpServer({
    handler: (req, res) => {
      family = req.connection.family;
      res.end("unix ok");
    },
    logger: testLogger(),
  });
  await server.listen([`unix:${path}`]);
  try {
    assert.equal(server.address()[0]?.path, path);
    const r = await rawRequest(
      `unix:${path}`,
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.equal(r.responses[0]?.text, "unix ok");
    assert.equal(family, "unix");
  } finally {
    await server.drain(200);
  }
  assert.equal(existsSync(path), false);
});

void test("IPv6 loopback listener (skipped when the host has no ::1)", async (t) => {
  const server = new HttpServer({ handler: hello, logger: testLogger() });
  try {
    await server.listen(["[::1]:0"]);
  } catch {
    t.skip("no IPv6 loopback");
    return;
  }
  try {
    const a = server.address()[0]!;
    assert.equal(a.family, "IPv6");
    const r = await rawRequest(
      { host: "::1", port: a.port },
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.equal(r.responses[0]?.text, "hello");
  } finally {
    await server.drain(200);
  }
});

void test("per-listener handler; removeListener stops accepting there", async () => {
  const server = new HttpServer({ handler: hello, logger: testLogger() });
  await server.listen(["127.0.0.1:0"]);
  const other = await server.addListener("127.0.0.1:0", {
    handler: (_q, res) => {
      res.end("other");
    },
  });
  try {
    const [main, second] = server.address();
    assert.equal(
      (await rawRequest(main!.port, "GET / HTTP/1.0\r\n\r\n")).responses[0]?.text,
      "hello",
    );
    assert.equal(
      (await rawRequest(second!.port, "GET / HTTP/1.0\r\n\r\n")).responses[0]?.text,
      "other",
    );
    await server.removeListener(other);
    assert.equal(server.address().length, 1);
    const refused = await new Promise<boolean>((resolve) => {
      const c = connect({ host: "127.0.0.1", port: second!.port });
      c.on("error", () => {
        resolve(true);
      });
      c.on("connect", () => {
        c.destroy();
        resolve(false);
      });
    });
    assert.equal(refused, true);
  } finally {
    await server.drain(200);
  }
});

void test("drain: idle connections close now, in-flight ones finish with Connection: close, no new ones", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = await startServer(async (req, res) => {
    if (req.path === "/slow") await gate;
    res.end(req.path);
  });
  const idle = await RawClient.connect(s.port);
  await idle.write("GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
  await idle.response(0);
  const busy = await RawClient.connect(s.port);
  await busy.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  await sleep(30);
  const drained = s.server.drain(3000);
  assert.equal(await idle.waitClose(1000), true);
  assert.equal(busy.closed, false);
  release();
  const r = await busy.response(0);
  assert.equal(r.text, "/slow");
  assert.equal(r.header("connection"), "close");
  assert.equal(await busy.waitClose(1000), true);
  await drained;
  assert.equal(s.server.connections, 0);
});

void test("drain: after the grace period stuck connections are destroyed", async () => {
  const s = await startServer(() => new Promise<void>(() => undefined));
  const c = await RawClient.connect(s.port);
  await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  await sleep(30);
  const t0 = Date.now();
  await s.server.drain(200);
  assert.ok(Date.now() - t0 >= 150);
  assert.equal(await c.waitClose(1000), true);
});
