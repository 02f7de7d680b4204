/**
 * wrk as a library: run it bounded in time and parse its report (req/s, latency
 * percentiles from --latency, socket errors, non-2xx answers).
 *
 *   const r = runWrk({ url: "http://127.0.0.1:8000/", conns: 64, seconds: 8 });
 *   r.rps; r.p50Ms; r.p99Ms; r.errors
 */
import { spawnSync } from "node:child_process";

export interface WrkOptions {
  readonly url: string;
  readonly conns: number;
  readonly seconds: number;
  /** wrk threads (-t); default 1 so that wrk takes one core at most. */
  readonly threads?: number;
  /** wrk's per-request timeout; a request slower than this counts as a timeout error. */
  readonly timeoutSeconds?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly bytesPerSec: number;
  /** connect + read + write + timeout socket errors. */
  readonly socketErrors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** "" when clean, else wrk's own error lines joined with "; ". */
  readonly errors: string;
  readonly raw: string;
}

/** "1.23ms" | "812.00us" | "1.02s" | "2.00m" → milliseconds; NaN when unparsable. */
export function durationMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (m === null) return NaN;
  const n = Number(m[1]);
  switch (m[2]) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    default:
      return n * 60_000;
  }
}

/** "1.50MB" → bytes (wrk prints binary multiples). */
export function sizeBytes(v: string): number {
  const m = /^([\d.]+)([KMGT]?B)$/.exec(v.trim());
  if (m === null) return NaN;
  const mult: Record<string, number> = {
    B: 1,
    KB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
  };
  return Number(m[1]) * (mult[m[2] ?? "B"] ?? 1);
}

/** Parses wrk 4's report (run with --latency for the percentiles). */
export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    return m === null ? NaN : Number(m[1]);
  };
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out);
    return m === null ? NaN : durationMs(m[1] ?? "");
  };
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se === null ? 0 : se.slice(1, 5).reduce((a, b) => a + Number(b), 0);
  const timeouts = se === null ? 0 : Number(se[4]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errs = out.match(/Socket errors:.*|Non-2xx or 3xx responses: \d+/g) ?? [];
  const ins = /(\d+) requests in ([\d.]+\w+),/.exec(out);
  return {
    requests: num(/(\d+) requests in/),
    seconds: ins === null ? NaN : durationMs(ins[2] ?? "") / 1000,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: pct("50"),
    p75Ms: pct("75"),
    p90Ms: pct("90"),
    p99Ms: pct("99"),
    bytesPerSec: sizeBytes(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? ""),
    socketErrors,
    timeouts,
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    errors: errs.join("; "),
    raw: out,
  };
}

/** Runs wrk (bounded: killed 20 s after its duration) and parses its report. */
export function runWrk(o: WrkOptions): WrkResult {
  const args = [
    `-t${o.threads ?? 1}`,
    `-c${o.conns}`,
    `-d${o.seconds}s`,
    `--timeout`,
    `${o.timeoutSeconds ?? 5}s`,
    "--latency",
    o.url,
  ];
  const r = spawnSync("wrk", args, {
    encoding: "utf8",
    timeout: (o.seconds + 20) * 1000,
    killSignal: "SIGKILL",
  });
  if (r.error !== undefined) throw new Error(`wrk ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`wrk ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return parseWrk(r.stdout);
}
