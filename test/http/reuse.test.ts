/**
 * What the front end keeps from one request or response to the next, to do less work per
 * exchange: the previous request line and field strings (reused only for identical
 * octets), constant header lists serialised once, and the one connection timer whose
 * deadline moves without timer operations. Each must be invisible to clients.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RequestParser, type ParsedHead, type ParseEvent } from "../../src/http/parser.js";
import { DEFAULT_LIMITS } from "../../src/http/limits.js";
import { constantHeaders } from "../../src/http/index.js";
import type { Handler } from "../../src/http/types.js";
import { rawRequest, RawClient } from "../helpers/raw.js";
import { startServer, sleep } from "./util.js";

function heads(input: string): ParsedHead[] {
  const p = new RequestParser(DEFAULT_LIMITS, { address: "127.0.0.1" });
  p.push(Buffer.from(input, "latin1"));
  const out: ParsedHead[] = [];
  for (let ev: ParseEvent | null = p.next(); ev !== null; ev = p.next())
    if (ev.kind === "head") out.push(ev.head);
  return out;
}

void test("pipelined requests that differ in one octet are parsed each as sent", () => {
  const req = (target: string, host: string, extra: string): string =>
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
  const h = heads(
    req("/a?x=1", "one", "X-A: 1\r\n") +
      req("/a?x=1", "one", "X-A: 1\r\n") +
      req("/a?x=2", "onf", "X-A: 2\r\n") +
      req("/b#f", "one", "x-a: 2\r\nX-B: 3\r\n") +
      "HEAD /b#f HTTP/1.1\r\nHost: one\r\n\r\n" +
      "GET /b#f HTTP/1.0\r\n\r\n",
  );
  assert.equal(h.length, 6);
  // One line per message: method, target, path, query, fragment, version, fields in order.
  const show = (x: ParsedHead): string =>
    [x.method, x.target, x.path, x.query, x.fragment, `1.${x.versionMinor}`]
      .concat(x.headers.map(([n, v]) => `${n}: ${v}`))
      .join(" | ");
  assert.deepEqual(h.map(show), [
    "GET | /a?x=1 | /a | x=1 |  | 1.1 | Host: one | X-A: 1",
    "GET | /a?x=1 | /a | x=1 |  | 1.1 | Host: one | X-A: 1",
    "GET | /a?x=2 | /a | x=2 |  | 1.1 | Host: onf | X-A: 2",
    "GET | /b#f | /b |  | f | 1.1 | Host: one | x-a: 2 | X-B: 3",
    "HEAD | /b#f | /b |  | f | 1.1 | Host: one",
    "GET | /b#f | /b |  | f | 1.0",
  ]);
  // Each message has its own header list, whatever strings they share.
  assert.notEqual(h[0]!.headers, h[1]!.headers);
});

void test("a repeated request line is still checked: an invalid one after a valid one fails", () => {
  const p = new RequestParser(DEFAULT_LIMITS, { address: "127.0.0.1" });
  p.push(Buffer.from("GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x\x01 HTTP/1.1\r\nHost: a\r\n\r\n"));
  assert.equal(p.next()?.kind, "head");
  assert.equal(p.next()?.kind, "end");
  assert.throws(() => p.next(), /invalid octet in request target/);
});

void test("constantHeaders: frozen, checked once up front, served like any list", async () => {
  assert.throws(() => constantHeaders([["Bad Name", "x"]]), TypeError);
  assert.throws(() => constantHeaders([["X", "a\r\nInjected: 1"]]), TypeError);
  const h = constantHeaders([
    ["Content-Type", "text/plain"],
    ["Content-Length", "5"],
    ["Connection", "keep-alive"], // the writer's own: dropped
    ["X-Const", "1"],
  ]);
  assert.ok(Object.isFrozen(h) && Object.isFrozen(h[0]));
  const handler: Handler = (req, res) => {
    res.writeHead(200, h);
    res.end(req.method === "HEAD" ? undefined : "hello");
  };
  const s = await startServer(handler);
  try {
    const r = await rawRequest(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      { count: 3, methods: ["GET", "HEAD", "GET"] },
    );
    assert.equal(r.responses.length, 3);
    for (const x of r.responses) {
      assert.equal(x.status, 200);
      assert.equal(x.header("content-length"), "5");
      assert.equal(x.header("x-const"), "1");
      assert.equal(
        x.headers.filter(([n]) => n.toLowerCase() === "connection").length,
        x === r.responses[2] ? 1 : 0, // only the writer's own "close"
      );
    }
    assert.equal(r.responses[0]!.text, "hello");
    assert.equal(r.responses[1]!.text, "");
    assert.equal(r.responses[2]!.header("connection"), "close");
  } finally {
    await s.stop();
  }
});

void test("the keep-alive timeout counts from the end of the last response, however many came before", async () => {
  const slow: Handler = async (_req, res) => {
    await sleep(150); // longer than half the keep-alive timeout: the deadline must move
    res.writeHead(200, [["Content-Length", "2"]]);
    res.end("ok");
  };
  const s = await startServer(slow, { keepalive: 0.3 });
  try {
    const c = await RawClient.connect(s.port, []);
    try {
      for (let i = 1; i <= 3; i++) {
        await c.write(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert.ok(await c.until(() => c.responses.length >= i, 2000));
        await sleep(200); // idle, but within the timeout
        assert.equal(c.closed, false, `closed while idle after response ${i}`);
      }
      const t0 = Date.now();
      assert.ok(await c.until(() => c.closed, 2000), "not closed after the keep-alive timeout");
      const idle = Date.now() - t0 + 200;
      assert.ok(idle >= 280 && idle < 900, `closed after ${idle} ms idle`);
    } finally {
      c.destroy();
    }
  } finally {
    await s.stop();
  }
});
