/** Request limits over sockets: Gunicorn's names and statuses, nginx-like error pages. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rawRequest } from "../helpers/raw.js";
import { startServer, hello, echoBody } from "./util.js";

const PAGE_400 =
  "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>narwhal</center>\r\n</body>\r\n</html>\r\n";

void test("a bad request gets 400 with nginx's page, Server, Date, Connection: close, then the close", async () => {
  const s = await startServer(hello);
  try {
    const r = await rawRequest(s.port, "GET /x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
    assert.equal(r.closed, true);
    assert.equal(r.responses.length, 1);
    const res = r.responses[0]!;
    assert.equal(res.version, "HTTP/1.1");
    assert.equal(res.status, 400);
    assert.equal(res.reason, "Bad Request");
    assert.equal(res.text, PAGE_400);
    assert.equal(res.header("content-type"), "text/html");
    assert.equal(res.header("server"), "narwhal");
    assert.equal(res.header("connection"), "close");
    assert.match(
      res.header("date") ?? "",
      /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    );
  } finally {
    await s.stop();
  }
});

void test("limit_request_line: longest line accepted, one more octet → 414", async () => {
  const s = await startServer(hello, { limit_request_line: 100 });
  try {
    const line = (n: number): string =>
      "GET /" + "a".repeat(n - "GET / HTTP/1.1".length) + " HTTP/1.1";
    assert.equal(line(100).length, 100);
    const ok = await rawRequest(s.port, `${line(100)}\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assert.equal(ok.responses[0]?.status, 200);
    const big = await rawRequest(s.port, `${line(101)}\r\nHost: a\r\n\r\n`);
    assert.equal(big.responses[0]?.status, 414);
    assert.equal(big.responses[0]?.reason, "Request-URI Too Large");
    // Without ever sending the line end: refused as soon as the limit is passed.
    const endless = await rawRequest(s.port, "GET /" + "a".repeat(200));
    assert.equal(endless.responses[0]?.status, 414);
    assert.equal(endless.closed, true);
  } finally {
    await s.stop();
  }
});

void test("limit_request_fields: N fields pass, N+1 → 431", async () => {
  const s = await startServer(hello, { limit_request_fields: 3 });
  try {
    const req = (n: number): string =>
      "GET / HTTP/1.1\r\nHost: a\r\n" +
      Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join("") +
      "Connection: close\r\n\r\n";
    assert.equal((await rawRequest(s.port, req(2))).responses[0]?.status, 200);
    const r = await rawRequest(s.port, req(3));
    assert.equal(r.responses[0]?.status, 431);
    assert.equal(r.responses[0]?.reason, "Request Header Fields Too Large");
  } finally {
    await s.stop();
  }
});

void test("limit_request_field_size counts the CRLF; folded lines add up", async () => {
  const s = await startServer(hello, {
    limit_request_field_size: 20,
    permit_obsolete_folding: true,
  });
  try {
    // "X-A: 1234567890123" is 18 octets + CRLF = 20: allowed; one more → 431.
    const ok = await rawRequest(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1234567890123\r\nConnection: close\r\n\r\n",
    );
    assert.equal(ok.responses[0]?.status, 200);
    const big = await rawRequest(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: 12345678901234\r\n\r\n",
    );
    assert.equal(big.responses[0]?.status, 431);
    const folded = await rawRequest(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1234567\r\n 12345678\r\n\r\n",
    );
    assert.equal(folded.responses[0]?.status, 431);
  } finally {
    await s.stop();
  }
});

void test("limit_request_headers_total bounds the whole head → 431", async () => {
  const s = await startServer(hello, { limit_request_headers_total: 2048 });
  try {
    const fields = Array.from({ length: 40 }, (_, i) => `X-Field-${i}: ${"v".repeat(50)}\r\n`).join(
      "",
    );
    const r = await rawRequest(s.port, `GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`);
    assert.equal(r.responses[0]?.status, 431);
  } finally {
    await s.stop();
  }
});

void test("client_max_body_size: Content-Length over it → 413 before reading; chunked over it → 413", async () => {
  const s = await startServer(echoBody, { client_max_body_size: 1000 });
  try {
    const at = await rawRequest(
      s.port,
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${"x".repeat(1000)}`,
    );
    assert.equal(at.responses[0]?.status, 200);
    assert.equal(at.responses[0]?.header("x-body-length"), "1000");
    const over = await rawRequest(
      s.port,
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
    );
    assert.equal(over.responses[0]?.status, 413);
    assert.equal(over.closed, true);
    const chunk = (n: number): string => `${n.toString(16)}\r\n${"y".repeat(n)}\r\n`;
    const chunked = await rawRequest(
      s.port,
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(600)}${chunk(600)}0\r\n\r\n`,
    );
    assert.equal(chunked.responses[0]?.status, 413);
    assert.equal(chunked.closed, true);
  } finally {
    await s.stop();
  }
});

void test("header_map: drop (default) hides underscore names, refuse → 400, dangerous passes them", async () => {
  const seen: string[] = [];
  const h = (tag: string) => async () => {
    const s = await startServer(
      (req, res) => {
        seen.push(`${tag}:${req.headers.map(([n]) => n).join(",")}`);
        res.end("ok");
      },
      tag === "default" ? {} : { header_map: tag },
    );
    try {
      return await rawRequest(
        s.port,
        "GET / HTTP/1.1\r\nHost: a\r\nX_Under: 1\r\nX-Dash: 2\r\nConnection: close\r\n\r\n",
      );
    } finally {
      await s.stop();
    }
  };
  assert.equal((await h("default")()).responses[0]?.status, 200);
  assert.equal((await h("refuse")()).responses[0]?.status, 400);
  assert.equal((await h("dangerous")()).responses[0]?.status, 200);
  assert.deepEqual(seen, [
    "default:Host,X-Dash,Connection",
    "dangerous:Host,X_Under,X-Dash,Connection",
  ]);
});

void test("framing ambiguities are 400 and close; unknown codings 501", async () => {
  const s = await startServer(echoBody);
  try {
    const cases: Array<[string, number]> = [
      [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
      ],
      ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400],
      ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400],
      ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n", 501],
      ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", 400],
      [
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        400,
      ],
      [
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\0b\r\nabc\r\n0\r\n\r\n",
        400,
      ],
      [
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        400,
      ],
      ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400],
      ["get / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
      ["OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200],
      ["GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400],
      ["GET http://user@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400],
      ["CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ];
    for (const [req, status] of cases) {
      const r = await rawRequest(s.port, req, { halfClose: false });
      assert.equal(r.responses[0]?.status, status, JSON.stringify(req));
      assert.equal(r.closed, true, JSON.stringify(req));
    }
  } finally {
    await s.stop();
  }
});

void test("bare LF ends lines in the request line, fields and chunk-size lines", async () => {
  const s = await startServer(echoBody);
  try {
    const r = await rawRequest(
      s.port,
      "POST /lf HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nConnection: close\n\n3\nabc\r\n0\n\n",
    );
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.text, "abc");
  } finally {
    await s.stop();
  }
});
