/** Response framing: Content-Length, chunked, close-delimited, and the bodiless cases. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSync, writeFileSync, closeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawRequest } from "../helpers/raw.js";
import { startServer, sleep } from "./util.js";
import { HttpError } from "../../src/core/errors.js";
import type { Handler } from "../../src/http/types.js";
import { constantHeaders } from "../../src/http/header-block.js";

const byPath: Handler = async (req, res) => {
  switch (req.path) {
    case "/len":
      res.writeHead(200, [["Content-Type", "text/plain"]]);
      res.end("abc");
      return;
    case "/stream":
      res.writeHead(200, [["Content-Type", "text/plain"]]);
      res.write("one,");
      await sleep(5);
      res.write("two");
      res.end();
      return;
    case "/204":
      res.writeHead(204, [["Content-Length", "10"]]);
      res.end("ignored");
      return;
    case "/304":
      res.writeHead(304, [["ETag", '"x"']]);
      res.end();
      return;
    case "/103":
      res.writeInformational(103, [["Link", "</s.css>; rel=preload"]]);
      res.writeHead(200, []);
      res.end("after hints");
      return;
    case "/throw":
      throw new Error("boom");
    case "/teapot":
      throw new HttpError("BAD_URI", 404, "nope");
    case "/custom":
      res.writeHead(
        200,
        [
          ["Transfer-Encoding", "gzip"],
          ["Connection", "upgrade"],
          ["Server", "mine"],
          ["X-A", "1"],
        ],
        "Fine",
      );
      res.end("x");
      return;
    default:
      res.end("?");
  }
};

void test("Content-Length when the body is known, chunked when streamed (1.1), close-delimited for 1.0", async () => {
  const s = await startServer(byPath);
  try {
    const r = await rawRequest(
      s.port,
      "GET /len HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.equal(r.responses[0]?.header("content-length"), "3");
    assert.equal(r.responses[0]?.text, "abc");
    assert.equal(r.responses[1]?.header("transfer-encoding"), "chunked");
    assert.equal(r.responses[1]?.text, "one,two");
    assert.match(r.raw.toString("latin1"), /\r\n4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n$/);
    const old = await rawRequest(s.port, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert.equal(old.responses[0]?.header("transfer-encoding"), null);
    assert.equal(old.responses[0]?.header("connection"), "close");
    assert.equal(old.responses[0]?.text, "one,two");
    assert.equal(old.closed, true);
  } finally {
    await s.stop();
  }
});

void test("HEAD keeps Content-Length but sends no body; 204 and 304 carry none", async () => {
  const s = await startServer(byPath);
  try {
    const r = await rawRequest(
      s.port,
      "HEAD /len HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET /len HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      { methods: ["HEAD", "GET", "GET", "GET"] },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 204, 304, 200],
    );
    assert.equal(r.responses[0]?.header("content-length"), "3");
    assert.equal(r.responses[1]?.header("content-length"), null);
    assert.equal(r.responses[2]?.header("etag"), '"x"');
    // The reader would have mis-framed the last response had any of them carried octets.
    assert.equal(r.responses[3]?.text, "abc");
  } finally {
    await s.stop();
  }
});

void test("interim 103, custom reason, caller framing headers replaced, own Server kept", async () => {
  const s = await startServer(byPath);
  try {
    const r = await rawRequest(
      s.port,
      "GET /103 HTTP/1.1\r\nHost: a\r\n\r\nGET /custom HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [103, 200, 200],
    );
    assert.equal(r.responses[0]?.header("link"), "</s.css>; rel=preload");
    assert.equal(r.responses[1]?.text, "after hints");
    const c = r.responses[2]!;
    assert.equal(c.reason, "Fine");
    assert.equal(c.header("server"), "mine");
    assert.equal(c.header("transfer-encoding"), null);
    assert.equal(c.header("connection"), "close");
    assert.equal(c.text, "x");
  } finally {
    await s.stop();
  }
});

void test("a throwing handler gets 500 (or its HttpError status) and the process survives", async () => {
  const s = await startServer(byPath);
  try {
    const r = await rawRequest(s.port, "GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(r.responses[0]?.status, 500);
    assert.match(r.responses[0]?.text ?? "", /500 Internal Server Error/);
    assert.equal(r.closed, true);
    const t = await rawRequest(s.port, "GET /teapot HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(t.responses[0]?.status, 404);
  } finally {
    await s.stop();
  }
});

void test("sendFile streams a byte range", async () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-http-"));
  const file = join(dir, "f.bin");
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  writeFileSync(file, data);
  const s = await startServer(async (_req, res) => {
    const fd = openSync(file, "r");
    try {
      res.writeHead(206, [["Content-Length", String(200_000)]]);
      await res.sendFile(fd, 50_000, 250_000);
      res.end();
    } finally {
      closeSync(fd);
    }
  });
  try {
    const r = await rawRequest(s.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(r.responses[0]?.status, 206);
    assert.ok(r.responses[0]?.body.equals(data.subarray(50_000, 250_000)));
  } finally {
    await s.stop();
  }
});

void test("upgrade: 101 with the caller's headers, then the raw socket and the early bytes", async () => {
  const s = await startServer((_req, res) => {
    const { socket, head } = res.upgrade!([
      ["Connection", "upgrade"],
      ["Upgrade", "echo"],
    ]);
    socket.write(`early:${head.toString("latin1")};`);
    socket.on("data", (d: Buffer) => socket.write(d.toString("latin1").toUpperCase()));
    socket.on("end", () => socket.end());
    socket.resume();
  });
  try {
    const r = await rawRequest(
      s.port,
      [
        Buffer.from(
          "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhi",
        ),
        Buffer.from("there"),
      ],
      { halfClose: true, pieceDelayMs: 50 },
    );
    const text = r.raw.toString("latin1");
    assert.match(
      text,
      /^HTTP\/1\.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n/,
    );
    assert.match(text, /early:hi;THERE$/);
    assert.equal(r.closed, true);
  } finally {
    await s.stop();
  }
});

void test("heads built from one constant field list and reason phrases: right framing and checks every time", async () => {
  const fields = constantHeaders([["Content-Type", "text/plain"]]);
  const s = await startServer((req, res) => {
    const reason = req.query === "" ? undefined : decodeURIComponent(req.query);
    res.writeHead(200, fields, reason);
    res.end(req.path === "/long" ? "abcdef" : "abc");
  });
  try {
    const get = (target: string, close = false): string =>
      `GET ${target} HTTP/1.1\r\nHost: a\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
    const r = await rawRequest(
      s.port,
      get("/") + get("/long") + get("/?Fine") + get("/?Fine") + get("/?OK") + get("/", true),
    );
    assert.deepEqual(
      r.responses.map((x) => [
        x.status,
        x.reason,
        x.header("content-length"),
        x.header("connection"),
        x.text,
      ]),
      [
        [200, "OK", "3", null, "abc"],
        [200, "OK", "6", null, "abcdef"],
        [200, "Fine", "3", null, "abc"],
        [200, "Fine", "3", null, "abc"],
        [200, "OK", "3", null, "abc"],
        [200, "OK", "3", "close", "abc"],
      ],
    );
    // A reason phrase that could split the head is refused, also after a good one.
    const bad = await rawRequest(s.port, get("/?Fine") + get("/?Fine%0D%0AX-Evil%3A%201"));
    assert.deepEqual(
      bad.responses.map((x) => [x.status, x.header("x-evil")]),
      [
        [200, null],
        [500, null],
      ],
    );
  } finally {
    await s.stop();
  }
});
