/**
 * The error log: leveled lines written to a file or stderr, reopenable for logrotate (USR1).
 * Format follows Gunicorn's: `[2026-11-26 23:30:00 +0000] [PID] [LEVEL] message`.
 */
import { openSync, writeSync, closeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warning" | "error" | "critical";
const ORDER: Readonly<Record<LogLevel, number>> = {
  debug: 10,
  info: 20,
  warning: 30,
  error: 40,
  critical: 50,
};

export function isLogLevel(v: string): v is LogLevel {
  return Object.hasOwn(ORDER, v);
}

/** A sink that appends whole lines to a path ("-" is stderr/stdout) and can be reopened. */
export class LineSink {
  private fd: number;
  constructor(
    readonly path: string,
    private readonly dash: "stderr" | "stdout" = "stderr",
  ) {
    this.fd = this.open();
  }
  private open(): number {
    if (this.path === "-" || this.path === "") return this.dash === "stderr" ? 2 : 1;
    return openSync(this.path, "a");
  }
  write(line: string): void {
    try {
      writeSync(this.fd, line.endsWith("\n") ? line : line + "\n");
    } catch {
      // A full disk or a closed pipe must never take the server down.
    }
  }
  reopen(): void {
    const old = this.fd;
    this.fd = this.open();
    if (old > 2) closeSync(old);
  }
  close(): void {
    if (this.fd > 2) closeSync(this.fd);
  }
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export class Logger {
  private threshold: number;
  constructor(
    private sink: LineSink,
    level: LogLevel = "info",
  ) {
    this.threshold = ORDER[level];
  }
  setLevel(level: LogLevel): void {
    this.threshold = ORDER[level];
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.threshold;
  }
  log(level: LogLevel, message: string): void {
    if (ORDER[level] < this.threshold) return;
    this.sink.write(`[${stamp(new Date())}] [${process.pid}] [${level.toUpperCase()}] ${message}`);
  }
  debug(m: string): void {
    this.log("debug", m);
  }
  info(m: string): void {
    this.log("info", m);
  }
  warning(m: string): void {
    this.log("warning", m);
  }
  error(m: string): void {
    this.log("error", m);
  }
  critical(m: string): void {
    this.log("critical", m);
  }
  reopen(): void {
    this.sink.reopen();
  }
}

/** A logger for tests and tools that discards everything below `level`. */
export function stderrLogger(level: LogLevel = "info"): Logger {
  return new Logger(new LineSink("-"), level);
}
