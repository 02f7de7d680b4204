/**
 * The corpus fed straight into RequestParser (no sockets): whole, octet by octet and in
 * random pieces, checking every parsed field. Run once with the server's policies
 * (HTTP/1.1 needs Host) and once without the Host rule so every valid case's full parse
 * is checked even where the server answers 400 by policy.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "../../src/core/errors.js";
import { RequestParser, type ParsedHead } from "../../src/http/parser.js";
import { limitsFromSettings, type HttpLimits } from "../../src/http/limits.js";
import type { HeaderList } from "../../src/http/types.js";
import {
  loadCorpus,
  caseSettings,
  split,
  SPLIT_MODES,
  type CorpusCase,
  type ExpectedRequest,
} from "./cases.js";

interface Msg {
  head: ParsedHead;
  body: Buffer;
  trailers: HeaderList;
}

function feed(
  c: CorpusCase,
  limits: HttpLimits,
  pieces: Buffer[],
): { msgs: Msg[]; error: HttpError | null } {
  const p = new RequestParser(limits, { address: "127.0.0.1" });
  const msgs: Msg[] = [];
  let cur: { head: ParsedHead; body: Buffer[] } | null = null;
  let stop = false;
  const drain = (): void => {
    for (;;) {
      const ev = p.next();
      if (ev === null) return;
      if (ev.kind === "head") cur = { head: ev.head, body: [] };
      else if (ev.kind === "data") cur!.body.push(ev.chunk);
      else if (ev.kind === "end") {
        msgs.push({ head: cur!.head, body: Buffer.concat(cur!.body), trailers: ev.trailers });
        // Like the connection: nothing after a message that does not keep the connection.
        if (!cur!.head.keepAlive) {
          stop = true;
          return;
        }
        cur = null;
      }
    }
  };
  try {
    for (const piece of pieces) {
      p.push(piece);
      drain();
      if (stop) return { msgs, error: null };
    }
    if (c.requires_eof) {
      p.finish();
      drain();
    }
  } catch (e) {
    if (e instanceof HttpError) return { msgs, error: e };
    throw e;
  }
  return { msgs, error: null };
}

function sameMessage(m: Msg, e: ExpectedRequest): string | null {
  const h = m.head;
  const diffs: string[] = [];
  const eq = (what: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      diffs.push(`${what}: got ${JSON.stringify(a)} want ${JSON.stringify(b)}`);
  };
  eq("method", h.method, e.method);
  eq("target", h.target, e.target);
  eq("form", h.targetForm, e.target_form);
  if (e.path !== null) eq("path", h.path, e.path);
  eq("query", h.query, e.query);
  eq("fragment", h.fragment, e.fragment);
  eq("version", [h.versionMajor, h.versionMinor], e.version);
  eq(
    "headers",
    h.headers.map(([n, v]) => [n.toUpperCase(), v]),
    e.headers,
  );
  eq("body", m.body.toString("base64"), e.body_base64);
  if (e.trailers)
    eq(
      "trailers",
      m.trailers.map(([n, v]) => [n.toUpperCase(), v]),
      e.trailers,
    );
  return diffs.length ? diffs.join("; ") : null;
}

type Verdict = { v: "pass" | "alt" | "fail"; why: string };

function judge(c: CorpusCase, r: { msgs: Msg[]; error: HttpError | null }): Verdict {
  const altStatuses = new Set(
    c.also_acceptable.flatMap((a) => (a.status === undefined ? [] : [a.status])),
  );
  if (c.kind === "invalid") {
    if (r.error === null) {
      const processed = c.also_acceptable.some((a) => a.outcome === "processed");
      return processed && r.msgs.length > 0
        ? { v: "alt", why: "processed" }
        : { v: "fail", why: "no error" };
    }
    const st = r.error.status;
    if (st === c.expect_status) return { v: "pass", why: r.error.message };
    if (st !== null && altStatuses.has(st)) return { v: "alt", why: `${st} ${r.error.message}` };
    if (c.expect_status === null && st !== null && st >= 400 && st < 500)
      return { v: "alt", why: `${st}` };
    return { v: "fail", why: `status ${st} (${r.error.message}), want ${c.expect_status}` };
  }
  for (let i = 0; i < c.expect.length; i++) {
    const m = r.msgs[i];
    if (m === undefined) {
      const st = r.error?.status;
      if (r.msgs.length === i && st !== undefined && st !== null && altStatuses.has(st)) {
        return { v: "alt", why: `request ${i}: ${st} ${r.error!.message}` };
      }
      return { v: "fail", why: `request ${i} missing (${r.error?.message ?? "no error"})` };
    }
    const d = sameMessage(m, c.expect[i]!);
    if (d !== null) return { v: "fail", why: `request ${i}: ${d}` };
  }
  if (r.msgs.length !== c.expect.length) return { v: "fail", why: `${r.msgs.length} messages` };
  if (r.error !== null)
    return { v: "fail", why: `error after the expected messages: ${r.error.message}` };
  return { v: "pass", why: "" };
}

const cases = loadCorpus();

for (const requireHost of [true, false]) {
  void test(
    `corpus through RequestParser (requireHost=${requireHost})`,
    { skip: cases.length === 0 ? "corpus not found" : false },
    () => {
      const report: string[] = [];
      let fails = 0;
      const counts = { pass: 0, alt: 0, fail: 0, skipped: 0 };
      for (const c of cases) {
        const s = caseSettings(c);
        if (s === null) {
          counts.skipped++;
          continue;
        }
        const limits = { ...limitsFromSettings(s), requireHost };
        const verdicts = SPLIT_MODES.map((mode) =>
          judge(c, feed(c, limits, split(c.raw, mode, c.name))),
        );
        const worst =
          verdicts.find((v) => v.v === "fail") ??
          verdicts.find((v) => v.v === "alt") ??
          verdicts[0]!;
        // Every split must reach the same verdict: a difference is an incremental-parsing bug.
        const same = verdicts.every((v) => v.v === verdicts[0]!.v && v.why === verdicts[0]!.why);
        if (worst.v === "fail" || !same) {
          fails++;
          report.push(
            `FAIL ${c.name}: ${verdicts.map((v, i) => `${SPLIT_MODES[i]}=${v.v}(${v.why})`).join(" ")}`,
          );
        } else
          report.push(
            `${worst.v === "pass" ? "pass" : "alt-pass"} ${c.name}${worst.why ? ": " + worst.why : ""}`,
          );
        counts[worst.v]++;
      }
      if (process.env["CORPUS_VERBOSE"]) console.log(report.join("\n"));
      assert.equal(fails, 0, report.filter((l) => l.startsWith("FAIL")).join("\n"));
      console.log(`# parser corpus requireHost=${requireHost}: ${JSON.stringify(counts)}`);
    },
  );
}
