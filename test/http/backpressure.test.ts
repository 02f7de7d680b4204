/** A client that does not read its responses is not read either; lingering close keeps error responses. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../helpers/raw.js";
import { startServer, sleep } from "./util.js";

void test("pipelined requests from a client that does not read are not processed ahead", async () => {
  const body = Buffer.alloc(1024 * 1024, 0x62);
  let handled = 0;
  const s = await startServer((_req, res) => {
    handled++;
    res.writeHead(200, [["Content-Length", String(body.length)]]);
    res.end(body);
  });
  try {
    const c = await RawClient.connect(s.port);
    c.socket.pause();
    const n = 40;
    await c.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(n));
    await sleep(400);
    const stalled = handled;
    assert.ok(stalled < 20, `handled ${stalled} of ${n} while the client read nothing`);
    c.socket.resume();
    assert.equal(await c.until(() => c.responses.length === n, 8000), true);
    assert.equal(handled, n);
    assert.ok(c.responses.every((r) => r.body.length === body.length));
    c.destroy();
  } finally {
    await s.stop();
  }
});

void test("an unread request body is not buffered without bound while the handler waits", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = await startServer(
    async (req, res) => {
      await gate;
      let n = 0;
      for await (const c of req.body) n += c.length;
      res.end(String(n));
    },
    { client_max_body_size: 0 },
  );
  try {
    const c = await RawClient.connect(s.port);
    const total = 16 * 1024 * 1024;
    await c.write(
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`,
    );
    // Write without waiting: if the server kept reading, everything would be accepted at once.
    const chunk = Buffer.alloc(256 * 1024, 0x63);
    let accepted = 0;
    for (let i = 0; i < total / chunk.length; i++) if (c.socket.write(chunk)) accepted++;
    await sleep(300);
    assert.ok(
      c.socket.writableLength > 4 * 1024 * 1024,
      `client still holds ${c.socket.writableLength} unsent octets`,
    );
    release();
    const r = await c.response(0, 8000);
    assert.equal(r.text, String(total));
    assert.ok(accepted < total / chunk.length);
    c.destroy();
  } finally {
    await s.stop();
  }
});

void test("lingering close: a 413 sent while the client is still uploading reaches the client", async () => {
  const s = await startServer(
    (_req, res) => {
      res.end("never");
    },
    { client_max_body_size: 1024 },
    { lingeringTimeMs: 2000 },
  );
  try {
    const c = await RawClient.connect(s.port);
    // The client is busy uploading and reads only later: had the server closed with unread
    // input, its kernel would answer with a RST and the client would lose the 413.
    c.socket.pause();
    const size = 8 * 1024 * 1024;
    c.socket.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x64);
    for (let i = 0; i < size / chunk.length; i++) c.socket.write(chunk);
    await sleep(300);
    c.socket.resume();
    const r = await c.response(0, 5000);
    assert.equal(r.status, 413);
    assert.equal(r.header("connection"), "close");
    c.destroy();
  } finally {
    await s.stop();
  }
});
