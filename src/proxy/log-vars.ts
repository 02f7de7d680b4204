/**
 * $upstream_addr, $upstream_status, $upstream_response_time, $upstream_connect_time and
 * $upstream_header_time in nginx's format: one entry per try, joined by ", "; times in
 * seconds with millisecond precision; "-" where a try never got that far. The strings
 * are built only when a log format asks for them.
 */
import { performance } from "node:perf_hooks";
import type { UpstreamLogVars } from "./types.js";

const now = (): number => performance.now();

/** One try: times in milliseconds since an arbitrary origin (performance.now). */
class Try {
  status: number | null = null;
  readonly start = now();
  connect = -1;
  header = -1;
  end = -1;
  constructor(readonly addr: string) {}

  connected(): void {
    if (this.connect < 0) this.connect = now();
  }

  headers(status: number): void {
    if (this.header < 0) this.header = now();
    this.status = status;
  }

  done(status: number): void {
    if (this.end < 0) this.end = now();
    this.status = status;
  }
}

function secs(from: number, to: number): string {
  if (to < 0) return "-";
  return (Math.trunc(to - from) / 1000).toFixed(3);
}

export class UpstreamLog implements UpstreamLogVars {
  private readonly tries: Try[] = [];
  /** When vars() was taken: the end of tries that never ended. */
  private frozen = -1;

  /** A try on `addr` begins now. */
  start(addr: string): Try {
    const t = new Try(addr);
    this.tries.push(t);
    return t;
  }

  /** nginx logs the group name with status 502 when no server is usable. */
  noLive(groupName: string): void {
    const t = new Try(groupName);
    t.done(502);
    this.tries.push(t);
  }

  /** The variables as of now (their strings are made on first read). */
  vars(): UpstreamLogVars {
    this.frozen = now();
    return this;
  }

  private join(f: (t: Try) => string): string {
    const ts = this.tries;
    if (ts.length === 1) return f(ts[0]!);
    return ts.map(f).join(", ");
  }

  get addr(): string {
    return this.join((t) => t.addr);
  }

  get status(): string {
    return this.join((t) => (t.status === null ? "-" : String(t.status)));
  }

  get responseTime(): string {
    const end = this.frozen < 0 ? now() : this.frozen;
    return this.join((t) => secs(t.start, t.end < 0 ? end : t.end));
  }

  get connectTime(): string {
    return this.join((t) => secs(t.start, t.connect));
  }

  get headerTime(): string {
    return this.join((t) => secs(t.start, t.header));
  }
}
