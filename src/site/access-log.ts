/**
 * nginx's access log (ngx_http_log_module): `log_format NAME [escape=default|json|none]
 * STRING` with variables, `access_log PATH [FORMAT] [if=COND]` per location, `combined`
 * predefined as
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 *
 * Escaping applies to variable values only, as nginx's: `default` writes `"`, `\`,
 * control bytes and bytes >= 0x7f as \xHH (an absent variable is "-"); `json` escapes
 * as a JSON string body (absent is ""); `none` writes values as they are.
 */
import { ConfigError } from "../core/errors.js";
import { LineSink } from "../core/log.js";
import {
  evaluate,
  type AccessLog,
  type NginxConfig,
  type Template,
  type VariableLookup,
} from "../config/nginx/index.js";

type Escape = "default" | "json" | "none";

function hex(b: number): string {
  return "\\x" + b.toString(16).toUpperCase().padStart(2, "0");
}

/** @example escapeDefault('a"b') // 'a\\x22b' */
export function escapeDefault(v: string): string {
  // Most values (addresses, paths, user agents) need no escape: return them as they are.
  let i = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) break;
  }
  if (i === v.length) return v;
  let out = "";
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (c > 0xff) for (const b of Buffer.from(ch, "utf8")) out += hex(b);
    else if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) out += hex(c);
    else out += ch;
  }
  return out;
}

export function escapeJson(v: string): string {
  return JSON.stringify(v).slice(1, -1);
}

/** One line of `format` for a request. */
export function formatLine(format: Template, escape: Escape, lookup: VariableLookup): string {
  let out = "";
  for (const p of format.parts) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const v = lookup("variable" in p ? p.variable : String(p.capture));
    if (v === null || v === undefined) out += escape === "json" ? "" : "-";
    else out += escape === "default" ? escapeDefault(v) : escape === "json" ? escapeJson(v) : v;
  }
  return out;
}

/** nginx: `open() "/var/log/x.log" failed (2: No such file or directory)`. */
function openLog(path: string): LineSink {
  try {
    return new LineSink(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`open() "${path}" failed (${e.code ?? e.message})`);
  }
}

/** The open log files of a site, shared by every location writing to the same path. */
export class AccessLogs {
  private readonly sinks = new Map<string, LineSink>();

  constructor(private readonly formats: NginxConfig["logFormats"]) {}

  private sink(path: string): LineSink {
    let s = this.sinks.get(path);
    if (s === undefined) {
      s =
        path === "/dev/stdout"
          ? new LineSink("-", "stdout")
          : path === "/dev/stderr" || path === "stderr"
            ? new LineSink("-")
            : openLog(path);
      this.sinks.set(path, s);
    }
    return s;
  }

  /** Open every constant path now, so a bad path fails at startup (nginx: [emerg] open() failed). */
  openAll(config: NginxConfig): void {
    const visit = (logs: readonly AccessLog[]): void => {
      for (const l of logs) if (l.path.constant) this.sink(l.path.source);
    };
    visit(config.http.access_log);
    for (const s of config.servers) {
      visit(s.conf.access_log);
      const walk = (locs: typeof s.locations): void => {
        for (const l of locs) {
          visit(l.conf.access_log);
          walk(l.locations);
        }
      };
      walk(s.locations);
    }
  }

  write(logs: readonly AccessLog[], lookup: VariableLookup): void {
    for (const l of logs) {
      if (l.condition !== null) {
        const c = evaluate(l.condition, lookup);
        if (c === "" || c === "0") continue;
      }
      const f = this.formats[l.format] ?? this.formats["combined"]!;
      const path = evaluate(l.path, lookup);
      this.sink(path).write(formatLine(f.format, f.escape, lookup));
    }
  }

  /** USR1: reopen every file (logrotate). */
  reopen(): void {
    for (const s of this.sinks.values()) s.reopen();
  }

  close(): void {
    for (const s of this.sinks.values()) s.close();
    this.sinks.clear();
  }
}
