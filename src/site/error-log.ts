/**
 * `error_log FILE [LEVEL]` at the http, server and location levels: errors about a
 * request go where the settings in force say. A level that does not set its own
 * inherits the enclosing one, down from the main level, whose logger is the server's.
 * nginx's levels map onto narwhal's (notice → info, warn → warning, crit/alert/emerg →
 * critical). Only the first `error_log` of a level is used.
 */
import { ConfigError } from "../core/errors.js";
import { LineSink, Logger, type LogLevel } from "../core/log.js";
import type { ErrorLog, HttpConf, Location, NginxConfig } from "../config/nginx/index.js";

export const LEVELS: Readonly<Record<ErrorLog["level"], LogLevel>> = {
  debug: "debug",
  info: "info",
  notice: "info",
  warn: "warning",
  error: "error",
  crit: "critical",
  alert: "critical",
  emerg: "critical",
};

function openSink(path: string): LineSink {
  if (path === "stderr") return new LineSink("-");
  try {
    return new LineSink(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`open() "${path}" failed (${e.code ?? e.message})`);
  }
}

export class ErrorLogs {
  private readonly byList = new WeakMap<readonly ErrorLog[], Logger>();
  private readonly sinks = new Map<string, LineSink>();

  constructor(
    private readonly main: readonly ErrorLog[],
    private readonly mainLogger: Logger,
  ) {}

  /** The logger for requests under `conf` (the main one unless a level set its own). */
  for(conf: HttpConf): Logger {
    const list = conf.error_log;
    if (list === this.main || list.length === 0) return this.mainLogger;
    let l = this.byList.get(list);
    if (l === undefined) {
      const first = list[0]!;
      let sink = this.sinks.get(first.path);
      if (sink === undefined) this.sinks.set(first.path, (sink = openSink(first.path)));
      l = new Logger(sink, LEVELS[first.level]);
      this.byList.set(list, l);
    }
    return l;
  }

  /** Open every file now, so a bad path refuses startup (or the reload). */
  openAll(config: NginxConfig): void {
    const walk = (locs: readonly Location[]): void => {
      for (const l of locs) {
        this.for(l.conf);
        walk(l.locations);
      }
    };
    this.for(config.http);
    for (const s of config.servers) {
      this.for(s.conf);
      walk(s.locations);
    }
  }

  reopen(): void {
    for (const s of this.sinks.values()) s.reopen();
  }

  close(): void {
    for (const s of this.sinks.values()) s.close();
    this.sinks.clear();
  }
}
