/**
 * Replays the corpus over real sockets against any server (a StartServer), judging each
 * case as the corpus README says. One server per distinct settings set.
 */
import type { CorpusCase, ExpectedRequest, SplitMode } from "./cases.js";
import { caseSettings, settingsKey, split, environKey } from "./cases.js";
import { percentDecodeLatin1, type StartServer } from "./echo.js";
import { rawRequest, type RawResult } from "../helpers/raw.js";

export type Verdict = "pass" | "alt-pass" | "fail" | "skipped";

export interface CaseResult {
  readonly name: string;
  readonly mode: SplitMode;
  readonly verdict: Verdict;
  readonly why: string;
}

const HOP_BY_HOP = new Set([
  "HTTP_CONNECTION",
  "HTTP_KEEP_ALIVE",
  "HTTP_TRANSFER_ENCODING",
  "HTTP_TE",
  "HTTP_TRAILER",
  "HTTP_UPGRADE",
]);

/** Does this request ask the server to close after answering? (RFC 9112 §9.3) */
function asksClose(e: ExpectedRequest): boolean {
  const conn = e.headers
    .filter(([n]) => n === "CONNECTION")
    .map(([, v]) => v.toLowerCase())
    .join(",");
  if (/\bclose\b/.test(conn)) return true;
  return e.version[1] === 0 && !/\bkeep-alive\b/.test(conn);
}

function compareEnviron(env: Record<string, string>, e: ExpectedRequest): string | null {
  const d: string[] = [];
  const eq = (k: string, want: string): void => {
    if (env[k] !== want) d.push(`${k}=${JSON.stringify(env[k])} want ${JSON.stringify(want)}`);
  };
  eq("REQUEST_METHOD", e.method);
  eq("SERVER_PROTOCOL", `HTTP/${e.version[0]}.${e.version[1]}`);
  eq("QUERY_STRING", e.query);
  if (env["RAW_URI"] !== e.target && env["REQUEST_URI"] !== e.target)
    d.push(`RAW_URI=${JSON.stringify(env["RAW_URI"])}`);
  if ((e.target_form === "origin" || e.target_form === "absolute") && e.path !== null) {
    const got = (env["SCRIPT_NAME"] ?? "") + (env["PATH_INFO"] ?? "");
    if (got !== percentDecodeLatin1(e.path)) d.push(`PATH_INFO=${JSON.stringify(got)}`);
  }
  const want = new Map<string, string[]>();
  for (const [n, v] of e.headers) {
    const k = environKey(n);
    want.set(k, [...(want.get(k) ?? []), v]);
  }
  for (const [k, vs] of want) {
    if (env[k] === undefined && HOP_BY_HOP.has(k)) continue;
    if (env[k] !== vs.join(",") && env[k] !== vs.join(", "))
      d.push(`${k}=${JSON.stringify(env[k])} want ${JSON.stringify(vs.join(","))}`);
  }
  for (const k of Object.keys(env)) {
    if (k.startsWith("HTTP_") && !want.has(k)) d.push(`unexpected ${k}`);
    if (
      (k === "CONTENT_TYPE" || k === "CONTENT_LENGTH") &&
      !want.has(k) &&
      !(k === "CONTENT_LENGTH" && e.headers.some(([n]) => n === "TRANSFER-ENCODING"))
    ) {
      d.push(`unexpected ${k}`);
    }
  }
  if (env["body_base64"] !== e.body_base64)
    d.push(`body ${JSON.stringify(env["body_base64"])} want ${JSON.stringify(e.body_base64)}`);
  return d.length ? d.join("; ") : null;
}

function judgeValid(c: CorpusCase, r: RawResult, appDelta: number): [Verdict, string] {
  const finals = r.responses.filter((x) => x.status >= 200);
  const alt = new Set(c.also_acceptable.flatMap((a) => (a.status === undefined ? [] : [a.status])));
  for (let i = 0; i < c.expect.length; i++) {
    const e = c.expect[i]!;
    const res = finals[i];
    if (res === undefined)
      return ["fail", `response ${i} missing (${finals.length} received, closed=${r.closed})`];
    if (res.status !== 200) {
      // An alternative status ends the exchange: it must be the last response, then close.
      if (alt.has(res.status) && finals.length === i + 1 && r.closed && appDelta === i) {
        const title = /<title>(.*?)<\/title>/.exec(res.text)?.[1] ?? String(res.status);
        return [
          "alt-pass",
          `request ${i}: ${title}${e.http11_without_host ? " (the request has no Host)" : ""}`,
        ];
      }
      return ["fail", `request ${i}: status ${res.status} ${res.text.slice(0, 80)}`];
    }
    let env: Record<string, string>;
    try {
      env = JSON.parse(res.body.toString("utf8")) as Record<string, string>;
    } catch {
      return ["fail", `request ${i}: body is not JSON`];
    }
    const diff = compareEnviron(env, e);
    if (diff !== null) return ["fail", `request ${i}: ${diff}`];
  }
  if (finals.length !== c.expect.length)
    return ["fail", `${finals.length} responses, want ${c.expect.length}`];
  if (appDelta !== c.expect.length)
    return ["fail", `the app completed ${appDelta} requests, want ${c.expect.length}`];
  if (asksClose(c.expect[c.expect.length - 1]!) && !r.closed)
    return ["fail", "the last request asked for close; still open"];
  return ["pass", ""];
}

function judgeInvalid(c: CorpusCase, r: RawResult, appDelta: number): [Verdict, string] {
  const finals = r.responses.filter((x) => x.status >= 200);
  if (finals.some((x) => x.status < 300)) {
    // Some cases allow processing (RFC permits both): e.g. a forbidden trailer discarded.
    const processed = c.also_acceptable.find(
      (a) => a.outcome === "processed" || a.outcome === "processed_then_close",
    );
    if (
      processed !== undefined &&
      finals.every((x) => x.status < 300) &&
      (processed.outcome === "processed" || r.closed)
    ) {
      return ["alt-pass", `processed (${processed.outcome})`];
    }
    return ["fail", `a 2xx was answered: ${finals.map((x) => x.status).join(",")}`];
  }
  if (appDelta !== 0) return ["fail", `the app completed ${appDelta} requests`];
  if (!r.closed) return ["fail", "connection not closed after the error"];
  const alt = new Set(c.also_acceptable.flatMap((a) => (a.status === undefined ? [] : [a.status])));
  const first = finals[0];
  if (c.expect_status === null || c.expect_status === undefined) {
    if (first === undefined) return ["pass", "closed without response"];
    if (first.status >= 400 && first.status < 500) return ["alt-pass", `${first.status}`];
    return ["fail", `status ${first.status}`];
  }
  if (first === undefined) return ["fail", "closed without response"];
  if (first.status === c.expect_status) return ["pass", ""];
  if (alt.has(first.status)) return ["alt-pass", `${first.status}`];
  return ["fail", `status ${first.status}, want ${c.expect_status}`];
}

export async function runCorpus(
  start: StartServer,
  cases: readonly CorpusCase[],
  modes: readonly SplitMode[],
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const groups = new Map<string, CorpusCase[]>();
  for (const c of cases) {
    if (caseSettings(c) === null) {
      for (const mode of modes)
        results.push({ name: c.name, mode, verdict: "skipped", why: "setting not supported" });
      continue;
    }
    const k = settingsKey(c);
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  // Groups run concurrently (each its own server); cases inside a group one at a time so
  // the app's request counter is attributable.
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const server = await start(caseSettings(group[0]!)!);
      try {
        for (const c of group) {
          for (const mode of modes) {
            const before = server.appRequests();
            const r = await rawRequest(server.port, split(c.raw, mode, c.name), {
              halfClose: c.requires_eof === true,
              timeoutMs: 4000,
              ...(c.kind === "valid"
                ? {
                    count: c.expect.length,
                    settleMs: 30,
                    // A close is due after an error answer or when the last request asked for it.
                    expectClose: (rs: readonly { status: number }[]) =>
                      asksClose(c.expect[c.expect.length - 1]!) || rs.some((x) => x.status >= 300),
                  }
                : {}),
            });
            const delta = server.appRequests() - before;
            const [verdict, why] =
              c.kind === "valid" ? judgeValid(c, r, delta) : judgeInvalid(c, r, delta);
            results.push({ name: c.name, mode, verdict, why });
          }
        }
      } finally {
        await server.stop();
      }
    }),
  );
  return results;
}
