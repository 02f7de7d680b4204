// proxy_buffering on: replies written straight through while the client keeps up, and an
// upstream that breaks off mid-body is never passed off as a complete response.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { front, get } from "./helpers.js";

async function rawUpstream(
  reply: (s: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const all = new Set<Socket>();
  const srv = createServer((s) => {
    all.add(s);
    s.once("data", () => {
      reply(s);
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of all) s.destroy();
        srv.close(() => {
          r();
        });
      }),
  };
}

/** Everything the client receives until the proxy closes the connection (or `ms`). */
function fetchAll(port: number, ms = 2000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    const parts: Buffer[] = [];
    const t = setTimeout(() => {
      c.destroy();
      resolve({ text: Buffer.concat(parts).toString("latin1"), closed: false });
    }, ms);
    c.on("data", (d: Buffer) => parts.push(d));
    c.on("close", () => {
      clearTimeout(t);
      resolve({ text: Buffer.concat(parts).toString("latin1"), closed: true });
    });
    c.on("error", () => undefined);
    c.write(get("/").replace("Connection: close\r\n", ""));
  });
}

void test("buffered relay: a chunked reply in pieces reaches the client whole", async () => {
  const up = await rawUpstream((s) => {
    s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    setTimeout(() => s.end("6\r\n world\r\n0\r\n\r\n"), 30);
  });
  const px = await front({ pass: `http://127.0.0.1:${up.port}` });
  try {
    const r = await fetchAll(px.port, 500);
    assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.text, /\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n$/);
    assert.equal(px.outcomes[0]!.status, 200);
  } finally {
    await px.close();
    await up.close();
  }
});

void test("buffered relay: an upstream that closes mid-body makes the proxy cut the client off", async () => {
  const up = await rawUpstream((s) => {
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    setTimeout(() => s.destroy(), 30);
  });
  const px = await front({ pass: `http://127.0.0.1:${up.port}` });
  try {
    const r = await fetchAll(px.port);
    assert.equal(r.closed, true, "the client connection is closed, not kept alive");
    assert.match(r.text, /Content-Length: 100\r\n/);
    assert.ok(r.text.endsWith("partial"), JSON.stringify(r.text));
  } finally {
    await px.close();
    await up.close();
  }
});
