/** Keep-alive and pipelining rules (RFC 9112 §9.3). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rawRequest, RawClient } from "../helpers/raw.js";
import { startServer, hello, sleep } from "./util.js";

void test("HTTP/1.1 persists by default; Connection: close closes after the response", async () => {
  const s = await startServer(hello);
  try {
    const r = await rawRequest(
      s.port,
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert.equal(r.closed, true);
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200],
    );
    assert.equal(r.responses[0]?.header("connection"), null);
    assert.equal(r.responses[1]?.header("connection"), "close");
  } finally {
    await s.stop();
  }
});

void test("HTTP/1.0 closes by default; with keep-alive it persists and says so", async () => {
  const s = await startServer(hello);
  try {
    const plain = await rawRequest(s.port, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert.equal(plain.closed, true);
    assert.equal(plain.responses.length, 1);
    assert.equal(plain.responses[0]?.header("connection"), "close");
    const ka = await rawRequest(s.port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {
      count: 1,
      settleMs: 100,
    });
    assert.equal(ka.responses[0]?.header("connection"), "keep-alive");
    assert.equal(ka.closed, false);
  } finally {
    await s.stop();
  }
});

void test("pipelined requests are answered in order even when earlier handlers are slower", async () => {
  const s = await startServer(async (req, res) => {
    const delay = Number(req.query);
    await sleep(delay);
    res.end(req.path);
  });
  try {
    const reqs = [80, 10, 40, 0, 20]
      .map((d, i) => `GET /r${i}?${d} HTTP/1.1\r\nHost: a\r\n\r\n`)
      .join("");
    const r = await rawRequest(
      s.port,
      reqs + "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(
      r.responses.map((x) => x.text),
      ["/r0", "/r1", "/r2", "/r3", "/r4", "/last"],
    );
  } finally {
    await s.stop();
  }
});

void test("keepalive_requests: the n-th response says close and the connection closes", async () => {
  const s = await startServer(hello, { keepalive_requests: 3 });
  try {
    const one = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const r = await rawRequest(s.port, one.repeat(5));
    assert.equal(r.closed, true);
    assert.equal(r.responses.length, 3);
    assert.equal(r.responses[2]?.header("connection"), "close");
  } finally {
    await s.stop();
  }
});

void test("keepalive 0 disables keep-alive", async () => {
  const s = await startServer(hello, { keepalive: 0 });
  try {
    const r = await rawRequest(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert.equal(r.responses.length, 1);
    assert.equal(r.closed, true);
  } finally {
    await s.stop();
  }
});

void test("an unread request body is discarded before the next keep-alive request", async () => {
  const s = await startServer(hello);
  try {
    const c = await RawClient.connect(s.port);
    await c.write("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    assert.equal((await c.response(0)).status, 200);
    await c.write("cde");
    await c.write(
      "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert.equal((await c.response(2)).status, 200);
    assert.equal(c.closed, false);
    c.destroy();
  } finally {
    await s.stop();
  }
});

void test("a client half-close after a complete request still gets its response", async () => {
  const s = await startServer(async (_req, res) => {
    await sleep(30);
    res.end("late");
  });
  try {
    const r = await rawRequest(s.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", { halfClose: true });
    assert.equal(r.responses[0]?.text, "late");
    assert.equal(r.closed, true);
  } finally {
    await s.stop();
  }
});
