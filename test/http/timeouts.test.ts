/** The connection's one timer in each phase, with tiny timeouts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../helpers/raw.js";
import { startServer, hello, echoBody, sleep } from "./util.js";

void test("header timeout: a client trickling its head gets 408 and the close", async () => {
  const s = await startServer(hello, { header_timeout: 0.3 });
  try {
    const c = await RawClient.connect(s.port);
    const t0 = Date.now();
    // One octet every 50 ms: progress does not extend the header deadline.
    for (const ch of "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ") {
      if (c.closed) break;
      await c.write(ch);
      await sleep(50);
      if (Date.now() - t0 > 2500) break;
    }
    assert.equal(await c.waitClose(2000), true);
    const elapsed = Date.now() - t0;
    assert.equal(c.responses[0]?.status, 408);
    assert.equal(c.responses[0]?.reason, "Request Time-out");
    assert.ok(elapsed >= 280 && elapsed < 2000, `closed after ${elapsed} ms`);
  } finally {
    await s.stop();
  }
});

void test("a fresh connection that sends nothing is closed without a response after header_timeout", async () => {
  const s = await startServer(hello, { header_timeout: 0.2 });
  try {
    const c = await RawClient.connect(s.port);
    const t0 = Date.now();
    assert.equal(await c.waitClose(2000), true);
    assert.ok(Date.now() - t0 >= 180);
    assert.equal(c.raw.length, 0);
  } finally {
    await s.stop();
  }
});

void test("keep-alive idle timeout closes an idle connection; activity before it keeps it open", async () => {
  const s = await startServer(hello, { keepalive: 0.3 });
  try {
    const c = await RawClient.connect(s.port);
    await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal((await c.response(0)).status, 200);
    await sleep(150);
    await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal((await c.response(1)).status, 200);
    const t0 = Date.now();
    assert.equal(await c.waitClose(2000), true);
    const idle = Date.now() - t0;
    assert.ok(idle >= 250 && idle < 2000, `idle close after ${idle} ms`);
    assert.equal(c.responses.length, 2);
  } finally {
    await s.stop();
  }
});

void test("body timeout: a stalled body gets 408 and the close", async () => {
  const s = await startServer(echoBody, { body_timeout: 0.3 });
  try {
    const c = await RawClient.connect(s.port);
    await c.write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    const t0 = Date.now();
    assert.equal(await c.waitClose(2000), true);
    assert.ok(Date.now() - t0 >= 250);
    assert.equal(c.responses[0]?.status, 408);
  } finally {
    await s.stop();
  }
});

void test("send timeout: a client that stops reading a large response is disconnected", async () => {
  const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
  const s = await startServer(
    (_req, res) => {
      res.writeHead(200, [["Content-Length", String(big.length)]]);
      res.end(big);
    },
    { send_timeout: 0.3 },
  );
  try {
    const c = await RawClient.connect(s.port);
    c.socket.pause(); // never read
    await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    // send_timeout is 0.3 s; allow a loaded machine a few times that.
    const t0 = Date.now();
    while (s.server.connections > 0 && Date.now() - t0 < 3000) await sleep(50);
    assert.equal(s.server.connections, 0, "the server dropped the connection");
    assert.ok(Date.now() - t0 >= 250, "not before the send timeout");
    c.destroy();
  } finally {
    await s.stop();
  }
});
