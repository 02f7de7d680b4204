/** Expect: 100-continue only when the body is read (RFC 9110 §10.1.1); 417 otherwise. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rawRequest, RawClient } from "../helpers/raw.js";
import { startServer, hello, echoBody, sleep } from "./util.js";

void test("100 Continue is sent when the handler starts reading, then the final response", async () => {
  let reading = false;
  const s = await startServer(async (req, res) => {
    await sleep(100);
    reading = true;
    const parts: Buffer[] = [];
    for await (const c of req.body) parts.push(c);
    res.end(Buffer.concat(parts));
  });
  try {
    const c = await RawClient.connect(s.port);
    await c.write(
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    await sleep(50);
    assert.equal(c.responses.length, 0, "no 100 before the handler reads");
    const interim = await c.response(0);
    assert.equal(reading, true);
    assert.equal(interim.status, 100);
    await c.write("data");
    const final = await c.response(1);
    assert.equal(final.status, 200);
    assert.equal(final.text, "data");
    c.destroy();
  } finally {
    await s.stop();
  }
});

void test("no 100 Continue when the handler answers without reading; the connection then closes", async () => {
  const s = await startServer(hello);
  try {
    const r = await rawRequest(
      s.port,
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n",
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200],
    );
    assert.equal(r.responses[0]?.header("connection"), "close");
    assert.equal(r.closed, true);
  } finally {
    await s.stop();
  }
});

void test("other expectations get 417; HTTP/1.0 100-continue is ignored", async () => {
  const s = await startServer(echoBody);
  try {
    const r = await rawRequest(
      s.port,
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(r.responses[0]?.status, 417);
    assert.equal(r.closed, true);
    const old = await rawRequest(
      s.port,
      "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert.deepEqual(r.responses.length, 1);
    assert.deepEqual(
      old.responses.map((x) => x.status),
      [200],
    );
    assert.equal(old.responses[0]?.text, "hi");
  } finally {
    await s.stop();
  }
});

void test("chunked request bodies are decoded and trailers exposed", async () => {
  const s = await startServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req.body) parts.push(c);
    res.end(
      `${Buffer.concat(parts).toString()}|${JSON.stringify(req.body.trailers)}|${req.body.bytesRead}`,
    );
  });
  try {
    const r = await rawRequest(
      s.port,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext="q v"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n',
    );
    assert.equal(r.responses[0]?.text, 'hello world|[["X-Sum","1"]]|11');
  } finally {
    await s.stop();
  }
});
