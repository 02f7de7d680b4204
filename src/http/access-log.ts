/**
 * The access log: one line per response, in Gunicorn's format language or as JSON.
 *
 * - `access_log_format` (`--access-logformat`) is Gunicorn's: Python `%`-formatting over
 *   the atoms of access-log-atoms.ts, default
 *   `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`. Text values are
 *   escaped exactly as Gunicorn's SafeAtoms does (`"` becomes `\"`); missing values are `-`.
 * - `json` writes one JSON object per line with fixed field names (JSON_FIELDS);
 *   `json:h,s,{x-request-id}i` writes an object of the atoms named. Both are built by
 *   JSON.stringify, so a header holding quotes or newlines cannot forge fields.
 *
 * @example
 *   const log = openAccessLog({ path: "-", format: "json" });
 *   log?.log(record); // {"time":"2026-11-26T23:30:00.000Z","remote_addr":"127.0.0.1",...}
 */
import { ConfigError } from "../core/errors.js";
import { LineSink } from "../core/log.js";
import {
  atomValue,
  isKnownAtom,
  NUMERIC_ATOMS,
  pathInfo,
  type AccessRecord,
  type AtomValue,
} from "./access-log-atoms.js";
import { compilePrintf, formatValue, isNumericConversion } from "./access-log-printf.js";
import type { HeaderList, IncomingRequest, ResponseWriter } from "./types.js";

export type { AccessRecord } from "./access-log-atoms.js";

export const DEFAULT_ACCESS_LOG_FORMAT =
  '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

export type AccessLogFormatter = (rec: AccessRecord) => string;

/**
 * Compile `access_log_format` once; throws ConfigError for a format Gunicorn would fail
 * on at every request (bad syntax, a number conversion on a text atom) or, for `json:`,
 * an unknown atom.
 */
export function compileAccessLogFormat(spec: string): AccessLogFormatter {
  if (spec === "json") return jsonDefault;
  if (spec.startsWith("json:")) return compileJsonAtoms(spec);
  const pieces = compilePrintf(spec, "access_log_format");
  for (const p of pieces) {
    if (typeof p === "string" || !isNumericConversion(p.conv)) continue;
    if (!(p.key.length === 1 && NUMERIC_ATOMS.includes(p.key))) {
      throw new ConfigError(
        `invalid access_log_format: %(${p.key})${p.conv} needs a number, but ${p.key} is text (use %(${p.key})s; numeric atoms are ${NUMERIC_ATOMS.split("").join(" ")})`,
      );
    }
  }
  return (rec) => {
    let out = "";
    for (const p of pieces) {
      if (typeof p === "string") out += p;
      else out += formatValue(p, textAtom(p.key, rec));
    }
    return out;
  };
}

/** An atom as Gunicorn's SafeAtoms hands it to `%`: "-" when missing, `"` escaped in text. */
function textAtom(key: string, rec: AccessRecord): AtomValue {
  const v = atomValue(key, rec);
  if (v === null) return "-";
  return typeof v === "string" ? v.replaceAll('"', '\\"') : v;
}

/** Field names of the `json` format, in output order. */
export const JSON_FIELDS = [
  "time",
  "remote_addr",
  "remote_port",
  "user",
  "method",
  "target",
  "path",
  "query",
  "protocol",
  "status",
  "bytes",
  "referer",
  "user_agent",
  "duration_us",
  "pid",
] as const;

function jsonDefault(rec: AccessRecord): string {
  const us = Math.max(0, Math.round(rec.durationUs));
  const obj: Record<(typeof JSON_FIELDS)[number], string | number | null> = {
    time: new Date(rec.startTime + us / 1000).toISOString(),
    remote_addr: rec.remoteAddress === "" ? null : rec.remoteAddress,
    remote_port: rec.remoteAddress === "" ? null : rec.remotePort,
    user: atomValue("u", rec),
    method: rec.method,
    target: rec.target,
    path: pathInfo(rec.path),
    query: rec.query,
    protocol: rec.protocol,
    status: rec.status,
    bytes: rec.bodyBytes,
    referer: atomValue("f", rec),
    user_agent: atomValue("a", rec),
    duration_us: us,
    pid: rec.pid,
  };
  return JSON.stringify(obj);
}

function compileJsonAtoms(spec: string): AccessLogFormatter {
  const keys = spec
    .slice("json:".length)
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (keys.length === 0)
    throw new ConfigError(
      `invalid access_log_format ${JSON.stringify(spec)}: json: needs atoms, e.g. json:h,t,r,s`,
    );
  for (const k of keys) {
    if (!isKnownAtom(k)) {
      throw new ConfigError(
        `invalid access_log_format ${JSON.stringify(spec)}: unknown atom ${JSON.stringify(k)}`,
      );
    }
  }
  return (rec) => {
    const obj: Record<string, AtomValue | null> = {};
    // The status is a number in JSON (Gunicorn's `s` atom is text, for `%(s)s`).
    for (const k of keys) obj[k] = k === "s" ? rec.status : atomValue(k, rec);
    return JSON.stringify(obj);
  };
}

/** Writes formatted lines to a LineSink; USR1 calls reopen() (logrotate). */
export class AccessLog {
  constructor(
    private readonly sink: LineSink,
    private readonly format: AccessLogFormatter,
    /** Where a failing format goes (Gunicorn logs the traceback to the error log). */
    private readonly onError: (message: string) => void = () => {},
  ) {}

  log(rec: AccessRecord): void {
    let line: string;
    try {
      line = this.format(rec);
    } catch (err) {
      this.onError(`access log format failed: ${(err as Error).message}`);
      return;
    }
    this.sink.write(line);
  }
  reopen(): void {
    this.sink.reopen();
  }
  close(): void {
    this.sink.close();
  }
}

/**
 * The access log for the `accesslog` and `access_log_format` settings, or null when
 * `accesslog` is unset (Gunicorn's default: no access log). `-` is stdout, as in Gunicorn.
 */
export function openAccessLog(
  opts: { path: string | null; format: string },
  onError?: (message: string) => void,
): AccessLog | null {
  const format = compileAccessLogFormat(opts.format);
  if (opts.path === null) return null;
  return new AccessLog(new LineSink(opts.path, "stdout"), format, onError);
}

/**
 * The record for a finished exchange, for callers holding the front end's request and
 * response objects. `responseHeaders` are the headers the handler passed to writeHead.
 */
export function accessRecordOf(
  req: IncomingRequest,
  res: Pick<ResponseWriter, "status" | "bodyBytesSent">,
  responseHeaders: HeaderList,
  endedAt: bigint = process.hrtime.bigint(),
  environ?: Readonly<Record<string, string>>,
): AccessRecord {
  const durationUs = Number((endedAt - req.startedAt) / 1000n);
  return {
    remoteAddress: req.connection.remoteAddress,
    remotePort: req.connection.remotePort,
    method: req.method,
    target: req.target,
    path: req.path,
    query: req.query,
    protocol: `HTTP/${req.versionMajor}.${req.versionMinor}`,
    status: res.status,
    bodyBytes: res.bodyBytesSent,
    requestHeaders: req.headers,
    responseHeaders,
    startTime: Date.now() - durationUs / 1000,
    durationUs,
    pid: process.pid,
    ...(environ === undefined ? {} : { environ }),
  };
}
