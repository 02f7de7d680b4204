/**
 * JS cost of one request without sockets: parse a wrk-style GET, build and "write" a
 * Hello World response through a fake socket. `npx tsx bench/http/micro.ts` (compiled JS
 * gives steadier numbers: `node dist/bench/http/micro.js`).
 */
import { RequestParser } from "../../src/http/parser.js";
import { DEFAULT_LIMITS } from "../../src/http/limits.js";
import { Response } from "../../src/http/response-writer.js";
const req = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
const fakeSock = {
  write: () => true,
  writableNeedDrain: false,
  destroyed: false,
  cork: () => undefined,
  uncork: () => undefined,
};
const host = {
  socket: fakeSock as never,
  serverHeader: "narwhal",
  decideClose: () => false,
  responseEnded: () => undefined,
  writeBlocked: () => undefined,
  abort: () => undefined,
  upgrade: () => {
    throw new Error("not in this benchmark");
  },
};
const p = new RequestParser(DEFAULT_LIMITS, { address: "127.0.0.1" });
function one(): void {
  p.push(req);
  const ev = p.next();
  if (ev?.kind !== "head") throw new Error("x");
  p.next();
  const res = new Response(host, false, false);
  res.writeHead(200, [["Content-Type", "text/plain"]]);
  res.end("Hello, World!");
  process.hrtime.bigint();
}
for (let i = 0; i < 200000; i++) one();
const N = 1_000_000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) one();
const t1 = process.hrtime.bigint();
console.log(`${Number(t1 - t0) / N} ns per request (parse + response build)`);
