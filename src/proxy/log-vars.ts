/**
 * $upstream_addr, $upstream_status, $upstream_response_time, $upstream_connect_time and
 * $upstream_header_time in nginx's format: one entry per try, joined by ", "; times in
 * seconds with millisecond precision; "-" where a try never got that far.
 */
import type { UpstreamLogVars } from "./types.js";

interface Try {
  addr: string;
  status: number | null;
  start: bigint;
  connect: bigint | null;
  header: bigint | null;
  end: bigint | null;
}

function secs(from: bigint, to: bigint | null): string {
  if (to === null) return "-";
  const ms = Number((to - from) / 1_000_000n);
  return (ms / 1000).toFixed(3);
}

export class UpstreamLog {
  private readonly tries: Try[] = [];

  /** A try on `addr` begins now. */
  start(addr: string): {
    connected(): void;
    headers(status: number): void;
    done(status: number): void;
  } {
    const t: Try = {
      addr,
      status: null,
      start: process.hrtime.bigint(),
      connect: null,
      header: null,
      end: null,
    };
    this.tries.push(t);
    return {
      connected() {
        t.connect ??= process.hrtime.bigint();
      },
      headers(status) {
        t.header ??= process.hrtime.bigint();
        t.status = status;
      },
      done(status) {
        t.end ??= process.hrtime.bigint();
        t.status = status;
      },
    };
  }

  /** nginx logs the group name with status 502 when no server is usable. */
  noLive(groupName: string): void {
    const now = process.hrtime.bigint();
    this.tries.push({
      addr: groupName,
      status: 502,
      start: now,
      connect: null,
      header: null,
      end: now,
    });
  }

  vars(): UpstreamLogVars {
    const j = (f: (t: Try) => string): string => this.tries.map(f).join(", ");
    return {
      addr: j((t) => t.addr),
      status: j((t) => (t.status === null ? "-" : String(t.status))),
      responseTime: j((t) => secs(t.start, t.end ?? process.hrtime.bigint())),
      connectTime: j((t) => secs(t.start, t.connect)),
      headerTime: j((t) => secs(t.start, t.header)),
    };
  }
}
