/**
 * Property: for generated valid requests, our parser and Node's llhttp (a node:http server
 * on loopback receiving the same octets) agree on method, target, header fields, body and
 * trailers. Bounded: 200 seeded runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { connect, type AddressInfo } from "node:net";
import fc from "fast-check";
import { RequestParser } from "../../src/http/parser.js";
import { DEFAULT_LIMITS } from "../../src/http/limits.js";

interface Parsed {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
  trailers: Array<[string, string]>;
}

const TCHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^`|~";
const RESERVED_NAMES = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-connection",
  "content-type",
  "x-forwarded-proto",
  "x-forwarded-protocol",
  "x-forwarded-ssl",
  "authorization",
]);
const PATH_CHARS =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/";
const VALUE_CHARS = TCHARS + '"(),/:;<=>?@[\\]{} \t' + "\u00e9\u00ff\u0080";

const str = (alphabet: string, min: number, max: number): fc.Arbitrary<string> =>
  fc
    .array(fc.constantFrom(...alphabet.split("")), { minLength: min, maxLength: max })
    .map((a) => a.join(""));

const name = str(TCHARS, 1, 12).filter((n) => !RESERVED_NAMES.has(n.toLowerCase()));
// Values: no leading/trailing whitespace (both parsers trim; we compare what is left).
const value = str(VALUE_CHARS, 0, 30).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ""));

const request = fc.record({
  method: fc.constantFrom(
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "PROPFIND",
    "M-SEARCH",
  ),
  path: str(PATH_CHARS, 0, 30).map((p) => "/" + p),
  query: fc.option(str("abcdefghijklmnopqrstuvwxyz0123456789=&%-", 0, 20), { nil: null }),
  host: str("abcdefghijklmnopqrstuvwxyz0123456789.-", 1, 20),
  hostAt: fc.nat(),
  headers: fc.array(fc.tuple(name, value, fc.constantFrom("", " ", "  ", "\t")), { maxLength: 8 }),
  body: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  chunked: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  ext: fc.boolean(),
  trailers: fc.array(fc.tuple(name, value), { maxLength: 3 }),
  pieces: fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 8 }),
});

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function encode(r: Req): Buffer {
  const target = r.path + (r.query === null ? "" : "?" + r.query);
  const fields: string[] = r.headers.map(([n, v, ows]) => `${n}:${ows}${v}\r\n`);
  fields.splice(r.hostAt % (fields.length + 1), 0, `Host: ${r.host}\r\n`);
  const parts: Buffer[] = [];
  let framing = "";
  if (r.body !== null) {
    if (r.chunked) {
      framing = "Transfer-Encoding: chunked\r\n";
      const b = Buffer.from(r.body);
      const cuts = [...new Set(r.cuts.map((c) => (b.length ? c % b.length : 0)))].sort(
        (x, y) => x - y,
      );
      let prev = 0;
      for (const c of [...cuts, b.length]) {
        if (c <= prev) continue;
        parts.push(
          Buffer.from(`${(c - prev).toString(16)}${r.ext ? ";a=b" : ""}\r\n`, "latin1"),
          b.subarray(prev, c),
          Buffer.from("\r\n"),
        );
        prev = c;
      }
      parts.push(
        Buffer.from(
          "0\r\n" + r.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("") + "\r\n",
          "latin1",
        ),
      );
    } else {
      framing = `Content-Length: ${r.body.length}\r\n`;
      parts.push(Buffer.from(r.body));
    }
  }
  const head = `${r.method} ${target} HTTP/1.1\r\n${fields.join("")}${framing}Connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), ...parts]);
}

const FRAMING = new Set(["transfer-encoding", "content-length", "connection"]);

function ours(bytes: Buffer, pieces: number[]): Parsed {
  const p = new RequestParser(DEFAULT_LIMITS, { address: "127.0.0.1" });
  const out: Parsed = { method: "", url: "", headers: [], body: "", trailers: [] };
  const body: Buffer[] = [];
  let i = 0;
  let k = 0;
  let done = false;
  while (!done) {
    if (i < bytes.length) {
      const n = pieces[k++ % pieces.length]!;
      p.push(bytes.subarray(i, i + n));
      i += n;
    } else p.finish();
    for (let ev = p.next(); ev !== null; ev = p.next()) {
      if (ev.kind === "head") {
        out.method = ev.head.method;
        out.url = ev.head.target;
        out.headers = ev.head.headers
          .filter(([n]) => !FRAMING.has(n.toLowerCase()))
          .map(([n, v]) => [n, v]);
      } else if (ev.kind === "data") body.push(ev.chunk);
      else if (ev.kind === "end") {
        out.trailers = ev.trailers.map(([n, v]) => [n, v]);
        done = true;
        break;
      }
    }
    if (i >= bytes.length && !done) throw new Error("our parser did not finish the message");
  }
  out.body = Buffer.concat(body).toString("latin1");
  return out;
}

function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

void test("our parser agrees with llhttp on generated valid requests", async () => {
  let pending: ((p: Parsed) => void) | null = null;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      pending?.({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: pairs(req.rawHeaders).filter(([n]) => !FRAMING.has(n.toLowerCase())),
        body: Buffer.concat(chunks).toString("latin1"),
        trailers: pairs(req.rawTrailers),
      });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const viaLlhttp = (bytes: Buffer): Promise<Parsed> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error("llhttp side timed out"));
      }, 3000);
      pending = (p) => {
        clearTimeout(t);
        resolve(p);
      };
      const s = connect({ port, host: "127.0.0.1" }, () => s.end(bytes));
      s.on("data", () => undefined);
      s.on("error", () => undefined);
    });
  try {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const bytes = encode(r);
        const theirs = await viaLlhttp(bytes);
        assert.deepEqual(ours(bytes, r.pieces), theirs);
      }),
      { numRuns: 200, seed: 20261126 },
    );
  } finally {
    server.close();
    server.closeAllConnections();
  }
});
