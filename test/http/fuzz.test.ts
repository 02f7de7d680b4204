/**
 * Bounded fuzzing: mutated corpus requests fed to the parser must either parse or fail
 * with an HttpError (never another exception, never a loop), and a server fed random
 * octets keeps serving.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HttpError } from "../../src/core/errors.js";
import { RequestParser } from "../../src/http/parser.js";
import { DEFAULT_LIMITS } from "../../src/http/limits.js";
import { loadCorpus } from "../corpus/cases.js";
import { rawRequest } from "../helpers/raw.js";
import { startServer, echoBody } from "./util.js";

const seeds = loadCorpus().map((c) => c.raw);
if (seeds.length === 0)
  seeds.push(
    Buffer.from(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ),
  );

const mutated = fc
  .record({
    seed: fc.nat(),
    edits: fc.array(
      fc.tuple(
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom("set", "insert", "delete"),
      ),
      { minLength: 1, maxLength: 6 },
    ),
    piece: fc.integer({ min: 1, max: 32 }),
    proxy: fc.boolean(),
  })
  .map((r) => {
    const base = Array.from(seeds[r.seed % seeds.length]!);
    for (const [at, byte, op] of r.edits) {
      const i = base.length === 0 ? 0 : at % base.length;
      if (op === "set") base[i] = byte;
      else if (op === "insert") base.splice(i, 0, byte);
      else base.splice(i, 1);
    }
    return { bytes: Buffer.from(base), piece: r.piece, proxy: r.proxy };
  });

void test("mutated requests: parse or HttpError, always terminating", () => {
  fc.assert(
    fc.property(mutated, ({ bytes, piece, proxy }) => {
      const p = new RequestParser(
        { ...DEFAULT_LIMITS, proxyProtocol: proxy, permitObsoleteFolding: proxy },
        { address: "127.0.0.1" },
      );
      let events = 0;
      try {
        for (let i = 0; i <= bytes.length; i += piece) {
          if (i < bytes.length) p.push(bytes.subarray(i, i + piece));
          else p.finish();
          for (let ev = p.next(); ev !== null; ev = p.next()) {
            events++;
            assert.ok(events < 10_000, "runaway event stream");
          }
        }
      } catch (e) {
        assert.ok(e instanceof HttpError, `unexpected ${String(e)}`);
        assert.ok(e.status === null || (e.status >= 400 && e.status < 600));
      }
    }),
    { numRuns: 3000, seed: 7 },
  );
});

void test("a server fed random and mutated octets answers or closes, and keeps serving", async () => {
  const s = await startServer(echoBody, { header_timeout: 0.3, body_timeout: 0.3 });
  try {
    const samples = fc.sample(mutated, { numRuns: 40, seed: 11 });
    await Promise.all(
      samples.map(async ({ bytes }) => {
        const r = await rawRequest(s.port, bytes, { halfClose: true, timeoutMs: 3000 });
        assert.equal(r.timedOut, false);
      }),
    );
    const ok = await rawRequest(s.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(ok.responses[0]?.status, 200);
  } finally {
    await s.stop();
  }
});
