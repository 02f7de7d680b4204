/**
 * Raw HTTP/1.1 over real sockets, for tests that must control every octet.
 *
 * API
 *   rawRequest(target, data, opts?) → Promise<{ responses, closed, timedOut, raw }>
 *     target   port number (127.0.0.1), "unix:/path" or "/path" (unix socket), or { host, port }
 *     data     string (latin1) | Buffer | Buffer[] (pieces, each written separately in order)
 *     opts.count       resolve once this many final (non-1xx) responses arrived, after settleMs more
 *     opts.settleMs    wait after the count-th response to catch extra responses or the close (50)
 *     opts.expectClose after the count-th response, wait for the close (up to the timeout)
 *                      instead of settleMs: a boolean, or a predicate over the responses
 *     opts.timeoutMs   overall limit (3000); on expiry resolves with timedOut: true
 *     opts.halfClose   shutdown(SHUT_WR) after the last piece
 *     opts.methods     request methods in order, so HEAD responses are read without a body
 *     opts.pieceDelayMs  pause between pieces (0: just wait for each write's callback)
 *     Without `count` it reads until the server closes (or the timeout).
 *   RawClient.connect(target) → client with write(data), nextResponse(timeoutMs),
 *     waitClose(timeoutMs) → boolean, end(), destroy(), responses[], closed
 *   ResponseReader: push(Buffer) → ParsedResponse[] completed; eof() → close-delimited rest
 *
 * ParsedResponse { version, status, reason, headers: [name, value][], header(name), body, text }
 * 1xx interim responses appear in `responses` too (status 100..199).
 */
import { connect, type Socket } from "node:net";

export interface ParsedResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
  readonly text: string;
  header(name: string): string | null;
}

export type RawTarget = number | string | { host: string; port: number };

export interface RawOptions {
  count?: number;
  settleMs?: number;
  timeoutMs?: number;
  halfClose?: boolean;
  methods?: string[];
  pieceDelayMs?: number;
  expectClose?: boolean | ((responses: readonly ParsedResponse[]) => boolean);
}

export interface RawResult {
  responses: ParsedResponse[];
  closed: boolean;
  timedOut: boolean;
  raw: Buffer;
}

function makeResponse(
  version: string,
  status: number,
  reason: string,
  headers: Array<[string, string]>,
  body: Buffer,
): ParsedResponse {
  return {
    version,
    status,
    reason,
    headers,
    body,
    text: body.toString("latin1"),
    header(name: string): string | null {
      const n = name.toLowerCase();
      const h = headers.find(([k]) => k.toLowerCase() === n);
      return h ? h[1] : null;
    },
  };
}

/** An incremental HTTP/1.1 response reader: Content-Length, chunked or close-delimited; HEAD-aware. */
export class ResponseReader {
  private buf = Buffer.alloc(0);
  private finals = 0;
  private cur: {
    version: string;
    status: number;
    reason: string;
    headers: Array<[string, string]>;
    mode: "cl" | "chunked" | "close";
    left: number;
    parts: Buffer[];
  } | null = null;

  constructor(private readonly methods: readonly string[] = []) {}

  push(data: Buffer): ParsedResponse[] {
    this.buf = Buffer.concat([this.buf, data]);
    const out: ParsedResponse[] = [];
    for (;;) {
      const r = this.step();
      if (r === null) break;
      out.push(r);
    }
    return out;
  }

  /** The server closed: a close-delimited body ends here. */
  eof(): ParsedResponse | null {
    const c = this.cur;
    if (c !== null && c.mode === "close") {
      this.cur = null;
      c.parts.push(this.buf);
      this.buf = Buffer.alloc(0);
      return makeResponse(c.version, c.status, c.reason, c.headers, Buffer.concat(c.parts));
    }
    return null;
  }

  /** Octets received that are not part of a complete response. */
  get pending(): number {
    return this.buf.length;
  }

  private step(): ParsedResponse | null {
    if (this.cur === null) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return null;
      const lines = this.buf.toString("latin1", 0, end).split("\r\n");
      this.buf = this.buf.subarray(end + 4);
      const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
      if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
      const headers = lines.slice(1).map((l): [string, string] => {
        const i = l.indexOf(":");
        return [l.slice(0, i), l.slice(i + 1).trim()];
      });
      const status = Number(m[2]);
      const get = (n: string): string | undefined =>
        headers.find(([k]) => k.toLowerCase() === n)?.[1];
      if (status < 200) return makeResponse(m[1]!, status, m[3] ?? "", headers, Buffer.alloc(0));
      const method = this.methods[this.finals] ?? "GET";
      this.finals++;
      const noBody = method === "HEAD" || status === 204 || status === 304;
      const te = get("transfer-encoding");
      const cl = get("content-length");
      if (noBody) return makeResponse(m[1]!, status, m[3] ?? "", headers, Buffer.alloc(0));
      if (te !== undefined && /chunked/i.test(te))
        this.cur = {
          version: m[1]!,
          status,
          reason: m[3] ?? "",
          headers,
          mode: "chunked",
          left: -1,
          parts: [],
        };
      else if (cl !== undefined)
        this.cur = {
          version: m[1]!,
          status,
          reason: m[3] ?? "",
          headers,
          mode: "cl",
          left: Number(cl),
          parts: [],
        };
      else
        this.cur = {
          version: m[1]!,
          status,
          reason: m[3] ?? "",
          headers,
          mode: "close",
          left: -1,
          parts: [],
        };
    }
    const c = this.cur;
    if (c.mode === "close") return null;
    if (c.mode === "cl") {
      const n = Math.min(c.left, this.buf.length);
      c.parts.push(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      c.left -= n;
      if (c.left > 0) return null;
    } else {
      for (;;) {
        if (c.left > 0) {
          if (this.buf.length < c.left + 2) return null;
          c.parts.push(this.buf.subarray(0, c.left));
          this.buf = this.buf.subarray(c.left + 2);
          c.left = -1;
        }
        const lf = this.buf.indexOf("\r\n");
        if (lf < 0) return null;
        const size = parseInt(this.buf.toString("latin1", 0, lf).split(";")[0]!, 16);
        if (size === 0) {
          // "0" CRLF *( trailer-field CRLF ) CRLF
          const end = this.buf.indexOf("\r\n\r\n", lf);
          if (end < 0) return null;
          this.buf = this.buf.subarray(end + 4);
          break;
        }
        this.buf = this.buf.subarray(lf + 2);
        c.left = size;
      }
    }
    this.cur = null;
    return makeResponse(c.version, c.status, c.reason, c.headers, Buffer.concat(c.parts));
  }
}

function connectTo(target: RawTarget): Socket {
  if (typeof target === "number")
    return connect({ host: "127.0.0.1", port: target, noDelay: true });
  if (typeof target === "string")
    return connect({ path: target.startsWith("unix:") ? target.slice(5) : target });
  return connect({ host: target.host, port: target.port, noDelay: true });
}

/** A raw connection for step-by-step tests. */
export class RawClient {
  readonly responses: ParsedResponse[] = [];
  closed = false;
  readonly chunks: Buffer[] = [];
  private readonly reader: ResponseReader;
  private wake: (() => void) | null = null;

  private constructor(
    readonly socket: Socket,
    methods: readonly string[],
  ) {
    this.reader = new ResponseReader(methods);
    socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.responses.push(...this.reader.push(d));
      this.poke();
    });
    socket.on("end", () => {
      const last = this.reader.eof();
      if (last) this.responses.push(last);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.poke();
    });
  }

  static connect(target: RawTarget, methods: readonly string[] = []): Promise<RawClient> {
    const s = connectTo(target);
    return new Promise((resolve, reject) => {
      s.once("connect", () => {
        resolve(new RawClient(s, methods));
      });
      s.once("error", reject);
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolve when `cond` holds, or false after timeoutMs. */
  async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return true;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data, () => {
        resolve();
      });
    });
  }

  /** The n-th response (0-based), waiting up to timeoutMs; throws on timeout. */
  async response(n: number, timeoutMs = 3000): Promise<ParsedResponse> {
    await this.until(() => this.responses.length > n || this.closed, timeoutMs);
    const r = this.responses[n];
    if (r === undefined) throw new Error(`no response #${n} (closed=${this.closed})`);
    return r;
  }

  waitClose(timeoutMs = 3000): Promise<boolean> {
    return this.until(() => this.closed, timeoutMs);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get raw(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export async function rawRequest(
  target: RawTarget,
  data: string | Buffer | Buffer[],
  opts: RawOptions = {},
): Promise<RawResult> {
  const pieces = Array.isArray(data)
    ? data
    : [typeof data === "string" ? Buffer.from(data, "latin1") : data];
  const timeoutMs = opts.timeoutMs ?? 3000;
  const started = Date.now();
  const c = await RawClient.connect(target, opts.methods ?? []);
  try {
    for (const p of pieces) {
      if (c.closed) break;
      await c.write(p);
      if (opts.pieceDelayMs) await new Promise((r) => setTimeout(r, opts.pieceDelayMs));
    }
    if (opts.halfClose && !c.closed) c.end();
    const finals = (): number => c.responses.filter((r) => r.status >= 200).length;
    const left = (): number => Math.max(0, timeoutMs - (Date.now() - started));
    let timedOut: boolean;
    if (opts.count !== undefined) {
      const n = opts.count;
      timedOut = !(await c.until(() => finals() >= n || c.closed, left()));
      const ec = opts.expectClose;
      const waitClose = typeof ec === "function" ? ec(c.responses) : ec === true;
      if (!timedOut && !c.closed)
        await c.until(() => c.closed, waitClose ? left() : Math.min(opts.settleMs ?? 50, left()));
    } else {
      timedOut = !(await c.waitClose(left()));
    }
    return { responses: c.responses, closed: c.closed, timedOut, raw: c.raw };
  } finally {
    c.destroy();
  }
}
