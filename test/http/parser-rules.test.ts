/** Parser rules the corpus does not cover, as a table: input octets → head fields or status. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "../../src/core/errors.js";
import { RequestParser, type ParsedHead, type ParseEvent } from "../../src/http/parser.js";
import { DEFAULT_LIMITS, type HttpLimits } from "../../src/http/limits.js";
import { ipMatcher } from "../../src/http/ip-allow.js";
import type { ProxyInfo } from "../../src/http/parser-proxy.js";

interface Outcome {
  head?: ParsedHead;
  proxy?: ProxyInfo;
  body: string;
  trailers: Array<[string, string]>;
  status?: number | null;
}

function parse(
  input: string | Buffer,
  limits: Partial<HttpLimits> = {},
  peer = "127.0.0.1",
  eof = true,
): Outcome {
  const p = new RequestParser({ ...DEFAULT_LIMITS, ...limits }, { address: peer });
  const out: Outcome = { body: "", trailers: [] };
  const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  try {
    for (let i = 0; i < bytes.length; i++) {
      p.push(bytes.subarray(i, i + 1));
      for (let ev: ParseEvent | null = p.next(); ev !== null; ev = p.next()) {
        if (ev.kind === "proxy") out.proxy = ev.info;
        else if (ev.kind === "head") out.head = ev.head;
        else if (ev.kind === "data") out.body += ev.chunk.toString("latin1");
        else {
          out.trailers = ev.trailers;
          return out;
        }
      }
    }
    if (eof) {
      p.finish();
      p.next();
    }
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    out.status = e.status;
  }
  return out;
}

const H = "Host: a\r\n";

void test("request line and targets", () => {
  const abs = parse(`GET http://ex.com:8080/p/q?x=1#f HTTP/1.1\r\n${H}\r\n`).head!;
  assert.deepEqual(
    [abs.targetForm, abs.path, abs.query, abs.fragment, abs.absoluteAuthority],
    ["absolute", "/p/q", "x=1", "f", "http://ex.com:8080"],
  );
  assert.equal(parse(`GET http://ex.com HTTP/1.1\r\n${H}\r\n`).head?.path, "");
  const conn = parse(`CONNECT ex.com:443 HTTP/1.1\r\n${H}\r\n`).head!;
  assert.deepEqual([conn.targetForm, conn.path], ["authority", ""]);
  assert.equal(parse(`CONNECT ex.com HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET http://:80/ HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET 1http://a/ HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET /a b HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET  / HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.1 \r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET /\x7f HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.2\r\n${H}\r\n`).head?.versionMinor, 2);
  assert.equal(parse(`GET / HTTP/0.9\r\n\r\n`).status, 400);
  // RFC 9112 §2.2 allows skipping empty lines before the request line; like Gunicorn we do not.
  assert.equal(parse(`\r\nGET / HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`\nGET / HTTP/1.1\r\n${H}\r\n`).status, 400);
  // Methods: Gunicorn's conventional-method policy and its switches.
  assert.equal(parse(`Get / HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(parse(`GE / HTTP/1.1\r\n${H}\r\n`).status, 400);
  assert.equal(
    parse(`GE / HTTP/1.1\r\n${H}\r\n`, { permitUnconventionalMethod: true }).head?.method,
    "GE",
  );
  assert.equal(
    parse(`get / HTTP/1.1\r\n${H}\r\n`, { permitUnconventionalMethod: true, casefoldMethod: true })
      .head?.method,
    "GET",
  );
});

void test("fields: trimming, leniencies and policies", () => {
  const h = parse(`GET / HTTP/1.1\n${H}X:  \t v  w \t\nY:\n\n`).head!;
  assert.deepEqual(h.headers, [
    ["Host", "a"],
    ["X", "v  w"],
    ["Y", ""],
  ]);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, { permitObsoleteFolding: true }).head
      ?.headers[1]?.[1],
    "a b",
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n X: a\r\n${H}\r\n`, { permitObsoleteFolding: true }).status,
    400,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}X \t: a\r\n\r\n`, { stripHeaderSpaces: true }).head
      ?.headers[1]?.[0],
    "X",
  );
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}: a\r\n\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}X\r\n\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}X: a\r\r\n\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n`).status, 400);
  assert.equal(parse(`GET / HTTP/1.1\r\n\r\n`, { requireHost: false }).head?.method, "GET");
  assert.equal(parse(`GET / HTTP/1.0\r\n\r\n`).head?.keepAlive, false);
  assert.equal(parse(`GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n`).head?.keepAlive, true);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Connection: foo, close\r\n\r\n`).head?.keepAlive,
    false,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Expect: 100-Continue\r\n\r\n`).head?.expectContinue,
    true,
  );
  assert.equal(parse(`GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n`).head?.expectContinue, false);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`).status, 417);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Content-Length: 1234567890123456\r\n\r\n`, { maxBodySize: 0 })
      .status,
    400,
  );
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Content-Length: 007\r\n\r\n1234567`).body, "1234567");
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: ,chunked\r\n\r\n`).status, 501);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: chunked,\r\n\r\n`).status, 501);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n`).head?.chunked,
    true,
  );
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n`).status, 501);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: foo\r\n\r\n`).status, 501);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, foo\r\n\r\n`).status, 501);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`).status, 501);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`).status, 400);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, deflate\r\n\r\n`).status,
    400,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`)
      .status,
    400,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}Transfer-Encoding: x\x01y, chunked\r\n\r\n`).status,
    400,
  );
});

void test("forwarder headers (SCRIPT_NAME, PATH_INFO) pass header_map only from trusted peers", () => {
  const req = `GET /app/x HTTP/1.1\r\n${H}SCRIPT_NAME: /app\r\nOther_Name: 1\r\n\r\n`;
  assert.deepEqual(
    parse(req).head?.headers.map(([n]) => n),
    ["Host", "SCRIPT_NAME"],
  );
  assert.deepEqual(
    parse(req, {}, "10.0.0.1").head?.headers.map(([n]) => n),
    ["Host"],
  );
  assert.equal(parse(req, { headerMap: "refuse" }).status, 400); // Other_Name
  const only = `GET / HTTP/1.1\r\n${H}PATH_INFO: /x\r\n\r\n`;
  assert.equal(parse(only, { headerMap: "refuse" }).head?.headers[1]?.[0], "PATH_INFO");
  assert.equal(parse(only, { headerMap: "refuse", forwarderHeaders: [] }).status, 400);
});

void test("forwarded scheme headers are honoured only from trusted peers", () => {
  const req = `GET / HTTP/1.1\r\n${H}X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\n\r\n`;
  assert.equal(parse(req).head?.forwardedScheme, "https");
  assert.equal(parse(req, {}, "10.0.0.1").head?.forwardedScheme, null);
  const conflict = `GET / HTTP/1.1\r\n${H}X-Forwarded-Proto: https\r\nX-Forwarded-Protocol: tcp\r\n\r\n`;
  assert.equal(parse(conflict).status, 400);
  assert.equal(parse(conflict, {}, "10.0.0.1").status, undefined);
  assert.equal(
    parse(conflict, { forwardedAllow: ipMatcher("10.0.0.0/8") }, "10.9.8.7").status,
    400,
  );
});

void test("chunked bodies: sizes, extensions, trailers", () => {
  const P = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;
  assert.equal(parse(`${P}A\r\n0123456789\r\n0\r\n\r\n`).body, "0123456789");
  assert.equal(parse(`${P}3 ; a=b ;c\r\nabc\r\n0;x="y;z"\r\n\r\n`).body, "abc");
  assert.equal(parse(`${P}3\nabc\r\n0\n\n`).body, "abc");
  assert.equal(parse(`${P}3\r\nabc\n0\r\n\r\n`).status, 400);
  assert.equal(parse(`${P}-3\r\nabc\r\n0\r\n\r\n`).status, 400);
  assert.equal(parse(`${P}0x3\r\nabc\r\n0\r\n\r\n`).status, 400);
  assert.equal(parse(`${P}${"f".repeat(13)}\r\n`).status, 413);
  assert.equal(parse(`${P}${"f".repeat(14)}\r\n`, { maxBodySize: 0 }).status, 400);
  assert.equal(parse(`${P}${"0".repeat(30)}3\r\nabc\r\n0\r\n\r\n`).body, "abc");
  const t = parse(`${P}1\r\nx\r\n0\r\nA: 1\r\nB_c: 2\r\n\r\n`);
  assert.deepEqual(t.trailers, [["A", "1"]]);
  assert.equal(parse(`${P}1\r\nx\r\n0\r\nAuthorization: x\r\n\r\n`).status, 400);
  assert.equal(parse(`${P}1\r\nx\r\n0\r\n`, {}, "127.0.0.1", true).status, 400);
  assert.equal(parse(`${P}1\r\nx\r\n`, {}, "127.0.0.1", true).status, 400);
});

void test("PROXY protocol v1 and v2", () => {
  const pp = { proxyProtocol: true };
  const v1 = parse(`PROXY TCP6 2001:db8::1 2001:db8::2 1000 443\r\nGET / HTTP/1.1\r\n${H}\r\n`, pp);
  assert.deepEqual(v1.proxy, {
    protocol: "TCP6",
    srcAddress: "2001:db8::1",
    srcPort: 1000,
    dstAddress: "2001:db8::2",
    dstPort: 443,
  });
  assert.equal(v1.head?.method, "GET");
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}\r\n`, pp).head?.method, "GET"); // no preamble: served as is
  assert.equal(parse(`PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n${H}\r\n`, pp).status, 400);
  assert.equal(parse(`PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n`, pp).status, 400);
  assert.equal(parse(`PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n`, pp, "10.0.0.1").status, 403);
  const sig = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
  const local = Buffer.concat([
    sig,
    Buffer.from([0x20, 0x00, 0x00, 0x00]),
    Buffer.from(`GET / HTTP/1.1\r\n${H}\r\n`),
  ]);
  assert.equal(parse(local, pp).proxy?.protocol, "LOCAL");
  assert.equal(parse(local, pp).head?.method, "GET");
  const badVersion = Buffer.concat([sig, Buffer.from([0x30, 0x11, 0x00, 0x0c])]);
  assert.equal(parse(badVersion, pp).status, 400);
  const udp = Buffer.concat([sig, Buffer.from([0x21, 0x12, 0x00, 0x0c]), Buffer.alloc(12)]);
  assert.equal(parse(udp, pp).status, 400);
  // Without proxy_protocol the preamble is just a bad request line.
  assert.equal(parse(`PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n${H}\r\n`).status, 400);
});

void test("limits: exact boundaries", () => {
  const line = (n: number): string => "GET /" + "a".repeat(n - 14) + " HTTP/1.1";
  assert.equal(parse(`${line(50)}\r\n${H}\r\n`, { maxRequestLine: 50 }).head?.method, "GET");
  assert.equal(parse(`${line(51)}\r\n${H}\r\n`, { maxRequestLine: 50 }).status, 414);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}A: 1\r\n\r\n`, { maxHeaderFields: 2 }).head?.headers.length,
    2,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\n\r\n`, { maxHeaderFields: 2 }).status,
    431,
  );
  // Dropped underscore fields still count.
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}A_b: 1\r\nB: 2\r\n\r\n`, { maxHeaderFields: 2 }).status,
    431,
  );
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}AB: 12345\r\n\r\n`, { maxFieldSize: 11 }).head?.headers[1]?.[1],
    "12345",
  );
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}AB: 123456\r\n\r\n`, { maxFieldSize: 11 }).status, 431);
  assert.equal(parse(`GET / HTTP/1.1\r\n${H}AB: 123456\n\n`, { maxFieldSize: 11 }).status, 431);
  assert.equal(
    parse(`GET / HTTP/1.1\r\n${H}${"X: 1\r\n".repeat(300)}\r\n`, {
      maxHeaderBytes: 1024,
      maxHeaderFields: 1000,
    }).status,
    431,
  );
});

void test("limitsFromSettings: Gunicorn's 0 and caps", async () => {
  const { limitsFromSettings } = await import("../../src/http/limits.js");
  const { Settings } = await import("../../src/config/resolved.js");
  const l = (o: Record<string, number>): [number, number, number] => {
    const x = limitsFromSettings(new Settings().with(o));
    return [x.maxRequestLine, x.maxHeaderFields, x.maxFieldSize];
  };
  assert.deepEqual(l({}), [4094, 100, 8190]);
  assert.deepEqual(
    l({ limit_request_line: 0, limit_request_fields: 0, limit_request_field_size: 0 }),
    [65536, 32768, 8190],
  );
  assert.deepEqual(
    l({ limit_request_line: 9000, limit_request_fields: 40000, limit_request_field_size: 20000 }),
    [8190, 32768, 20000],
  );
});
