/**
 * ResponseWriter over a socket: status line always HTTP/1.1 with nginx's reason phrases,
 * Server and Date first, then the caller's fields, then framing chosen by the writer
 * (RFC 9112 §6): Content-Length when known (given, or end(body) before any write), else
 * chunked for HTTP/1.1, else close-delimited. HEAD, 1xx, 204 and 304 never carry a body.
 */
import type { Socket } from "node:net";
import { read } from "node:fs";
import { reasonPhrase } from "../core/status.js";
import type { HeaderList, ResponseWriter, UpgradedConnection } from "./types.js";
import { httpDate } from "./date-cache.js";
import { latin1Write } from "./chars.js";
import { errorPage } from "./error-page.js";
import { BAD_VALUE, headerBlock, validName, type HeaderBlock } from "./header-block.js";

/** What the writer needs from its connection. */
export interface ResponseHost {
  readonly socket: Socket;
  readonly serverHeader: string;
  /** Decide (once, as the head goes out) whether the connection closes after this response. */
  decideClose(res: Response): boolean;
  /** The whole response has been handed to the socket. */
  responseEnded(res: Response): void;
  /** A write filled the socket buffer (start the send timeout). */
  writeBlocked(): void;
  abort(): void;
  /** Write the 101 head and hand the socket over (RFC 9110 §15.2.2). */
  upgrade(res: Response, head: string): UpgradedConnection;
}

const enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

const STATUS_LINES = new Map<number, string>();
/** The last status line built with a handler's own reason phrase, per status (checked once). */
const OWN_LINES = new Map<number, { readonly reason: string; readonly line: string }>();
function statusLine(status: number, reason: string | undefined): string {
  if (reason !== undefined) {
    const own = OWN_LINES.get(status);
    if (own !== undefined && own.reason === reason) return own.line;
    if (BAD_VALUE.test(reason)) throw new TypeError("invalid reason phrase");
    const line = `HTTP/1.1 ${status} ${reason}\r\n`;
    if (reason.length <= 64) {
      if (OWN_LINES.size >= 256) OWN_LINES.clear();
      OWN_LINES.set(status, { reason, line });
    }
    return line;
  }
  let l = STATUS_LINES.get(status);
  if (l === undefined) {
    l = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    STATUS_LINES.set(status, l);
  }
  return l;
}

/** end(body) up to this size copies head and body into one buffer for a single write. */
const SMALL_BODY = 16 * 1024;

/** nginx drops keep-alive after these errors (ngx_http_special_response_handler). */
const CLOSING_ERRORS = new Set([400, 408, 413, 414, 431, 500, 501]);

/** Status line, Server, Date and the fields; remembered on a constant block (same three strings). */
function headText(b: HeaderBlock, line: string, srv: string): string {
  const date = b.hasDate ? "" : httpDate();
  const m = b.memo;
  if (m !== null && m.line === line && m.date === date && m.server === srv) return m.head;
  const head =
    line +
    (b.hasServer || srv === "" ? "" : "Server: " + srv + "\r\n") +
    (b.hasDate ? "" : "Date: " + date + "\r\n") +
    b.text;
  if (b.constant) b.memo = { line, server: srv, date, head };
  return head;
}

const LENGTH_FIELDS = new Map<number, string>();
/** "Content-Length: n\r\n", the same string for the same n (most bodies have a few sizes). */
function lengthField(n: number): string {
  let f = LENGTH_FIELDS.get(n);
  if (f === undefined) {
    f = `Content-Length: ${n}\r\n`;
    if (LENGTH_FIELDS.size >= 1024) LENGTH_FIELDS.clear();
    LENGTH_FIELDS.set(n, f);
  }
  return f;
}

/** The last complete head: consecutive responses built from one memo share it. */
let lastHead = { prefix: "", framing: "", connection: "", head: "" };

function uncorkLater(res: Response): void {
  res.uncork();
}

export class Response implements ResponseWriter {
  status = 0;
  headersSent = false;
  bodyBytesSent = 0;
  bytesSent = 0;
  clientGone = false;
  /** end() was called. */
  finished = false;
  /** Decided when the head went out. */
  closing = false;
  closeRequested = false;

  private flushed = false;
  private head = "";
  private declared = -1;
  private framing = Framing.None;
  private noBody = false;
  private goneCallbacks: Array<() => void> | null = null;
  /** The socket is corked by write() until end() or the next tick. */
  private corked = false;

  constructor(
    private readonly host: ResponseHost,
    private readonly isHead: boolean,
    private readonly http10: boolean,
  ) {}

  get mustClose(): boolean {
    return this.closing || this.closeRequested;
  }

  writeHead(status: number, headers: HeaderList, reason?: string): void {
    if (this.headersSent) throw new Error("writeHead: headers already sent");
    if (!Number.isInteger(status) || status < 200 || status > 999)
      throw new RangeError(`invalid status ${status}`);
    const line = statusLine(status, reason);
    this.status = status;
    this.headersSent = true;
    const b = headerBlock(headers);
    if (b.declared >= 0) this.declared = b.declared;
    this.head = headText(b, line, this.host.serverHeader);
    // RFC 9110 §6.4.1: HEAD, 1xx, 204, 304 have no content.
    this.noBody = this.isHead || status === 204 || status === 304;
  }

  writeInformational(status: number, headers: HeaderList): void {
    if (this.headersSent || this.clientGone) return;
    if (status < 100 || status > 199 || status === 101)
      throw new RangeError(`invalid informational status ${status}`);
    // RFC 9110 §15.2: a server MUST NOT send 1xx to an HTTP/1.0 client.
    if (this.http10) return;
    let s = statusLine(status, undefined);
    for (const [n, v] of headers) {
      if (!validName(n) || BAD_VALUE.test(v))
        throw new TypeError(`invalid header ${JSON.stringify(n)}`);
      s += n + ": " + v + "\r\n";
    }
    this.send(s + "\r\n", "latin1");
  }

  /** Choose the framing and return the complete head. endLength: the whole body, when end() comes first. */
  private flushHead(endLength: number): string {
    this.flushed = true;
    let f: string;
    if (this.status === 204) {
      this.framing = Framing.None;
      f = "";
    } else if (this.declared >= 0) {
      this.framing = Framing.Length;
      f = lengthField(this.declared);
    } else if (this.noBody) {
      // HEAD: say what a GET would have carried when we know it (end(body) on HEAD).
      this.framing = Framing.None;
      f = this.isHead && endLength > 0 ? `Content-Length: ${endLength}\r\n` : "";
    } else if (endLength >= 0) {
      this.framing = Framing.Length;
      this.declared = endLength;
      f = lengthField(endLength);
    } else if (!this.http10) {
      this.framing = Framing.Chunked;
      f = "Transfer-Encoding: chunked\r\n";
    } else {
      // RFC 9112 §6.3 (8): an HTTP/1.0 client reads to the close.
      this.framing = Framing.Close;
      this.closeRequested = true;
      f = "";
    }
    this.closing = this.host.decideClose(this);
    const c = this.closing
      ? "Connection: close\r\n"
      : this.http10
        ? "Connection: keep-alive\r\n"
        : "";
    const last = lastHead;
    const prefix = this.head;
    this.head = "";
    if (last.prefix === prefix && last.framing === f && last.connection === c) return last.head;
    const h = prefix + f + c + "\r\n";
    lastHead = { prefix, framing: f, connection: c, head: h };
    return h;
  }

  private send(data: string | Buffer, enc?: BufferEncoding): boolean {
    const sock = this.host.socket;
    if (this.clientGone || sock.destroyed) return true;
    const n = typeof data === "string" ? Buffer.byteLength(data, enc) : data.length;
    this.bytesSent += n;
    const ok = typeof data === "string" ? sock.write(data, enc ?? "utf8") : sock.write(data);
    if (!ok) this.host.writeBlocked();
    return ok;
  }

  write(chunk: Buffer | string): boolean {
    if (this.finished) throw new Error("write after end");
    if (!this.headersSent) this.writeHead(200, []);
    const head = this.flushed ? "" : this.flushHead(-1);
    let len = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (this.noBody || len === 0 || this.framing === Framing.None) {
      return head === "" ? !this.host.socket.writableNeedDrain : this.send(head, "latin1");
    }
    if (this.framing === Framing.Length) {
      const room = this.declared - this.bodyBytesSent;
      if (len > room) {
        // More than declared would corrupt the next response on this connection.
        this.closeRequested = true;
        if (room <= 0)
          return head === "" ? !this.host.socket.writableNeedDrain : this.send(head, "latin1");
        chunk = (typeof chunk === "string" ? Buffer.from(chunk) : chunk).subarray(0, room);
        len = room;
      }
    }
    this.bodyBytesSent += len;
    const sock = this.host.socket;
    if (this.framing === Framing.Chunked) {
      // Corked until end() or the next tick: chunks written in one turn, and the
      // terminator when end() follows, leave in one writev (as node:http does).
      if (!this.corked) {
        this.corked = true;
        sock.cork();
        process.nextTick(uncorkLater, this);
      }
      if (head !== "") this.send(head, "latin1");
      this.send(len.toString(16) + "\r\n", "latin1");
      this.send(chunk);
      this.send("\r\n", "latin1");
    } else {
      sock.cork();
      if (head !== "") this.send(head, "latin1");
      this.send(chunk);
      sock.uncork();
    }
    const ok = !sock.writableNeedDrain;
    if (!ok) this.host.writeBlocked();
    return ok;
  }

  drain(): Promise<void> {
    const sock = this.host.socket;
    if (!sock.writableNeedDrain || this.clientGone || sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        sock.off("drain", done);
        sock.off("close", done);
        resolve();
      };
      sock.on("drain", done);
      sock.on("close", done);
    });
  }

  end(chunk?: Buffer | string): void {
    if (this.finished) return;
    if (!this.headersSent) this.writeHead(200, []);
    if (!this.flushed) {
      const len =
        chunk === undefined
          ? 0
          : typeof chunk === "string"
            ? Buffer.byteLength(chunk)
            : chunk.length;
      const head = this.flushHead(len);
      if (chunk === undefined || len === 0 || this.noBody || this.framing !== Framing.Length) {
        this.send(head, "latin1");
      } else {
        const n = Math.min(len, this.declared);
        if (n < len) this.closeRequested = true;
        if (n === len && typeof chunk === "string" && len === chunk.length) {
          // ASCII body: head and body in one string, one write (the hot path).
          this.bodyBytesSent += len;
          this.send(head + chunk, "latin1");
        } else if (n <= SMALL_BODY && typeof chunk !== "string") {
          // A small Buffer body: copied after the head into one Buffer, one write() (a
          // corked head + body would go out through the slower writev path).
          const hl = head.length;
          const one = Buffer.allocUnsafe(hl + n);
          latin1Write(one, head, 0);
          one.set(n === chunk.length ? chunk : chunk.subarray(0, n), hl);
          this.bodyBytesSent += n;
          this.send(one);
        } else {
          const body = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          const sock = this.host.socket;
          sock.cork();
          this.send(head, "latin1");
          this.bodyBytesSent += n;
          this.send(n === len ? body : body.subarray(0, n));
          sock.uncork();
        }
      }
    } else {
      if (chunk !== undefined) this.write(chunk);
      if (this.framing === Framing.Chunked && !this.noBody) this.send("0\r\n\r\n", "latin1");
      this.uncork();
    }
    if (this.framing === Framing.Length && !this.noBody && this.bodyBytesSent < this.declared) {
      // Fewer octets than declared: the client can only notice by the close.
      this.closeRequested = true;
    }
    this.finished = true;
    this.host.responseEnded(this);
  }

  async sendFile(fd: number, start: number, end: number): Promise<void> {
    let pos = start;
    while (pos < end && !this.clientGone) {
      const n = Math.min(65536, end - pos);
      const buf = Buffer.allocUnsafe(n);
      const got = await new Promise<number>((resolve, reject) => {
        read(fd, buf, 0, n, pos, (err, bytes) => {
          if (err) reject(err);
          else resolve(bytes);
        });
      });
      if (got === 0) throw new Error("sendFile: file ended before the requested range");
      pos += got;
      if (!this.write(got === n ? buf : buf.subarray(0, got))) await this.drain();
    }
  }

  sendError(status: number, extraHeaders: HeaderList = []): void {
    if (this.headersSent) {
      // Too late for a status: the client can only learn of the failure by the close.
      if (!this.finished) this.abort();
      return;
    }
    if (CLOSING_ERRORS.has(status)) this.closeRequested = true;
    const body = errorPage(status, this.host.serverHeader);
    this.writeHead(status, [
      ["Content-Type", "text/html"],
      ["Content-Length", String(body.length)],
      ...extraHeaders,
    ]);
    this.end(this.noBody ? undefined : body);
  }

  upgrade(headers: HeaderList): UpgradedConnection {
    if (this.headersSent) throw new Error("upgrade: headers already sent");
    let s = "HTTP/1.1 101 Switching Protocols\r\n";
    for (const [n, v] of headers) {
      if (!validName(n) || BAD_VALUE.test(v))
        throw new TypeError(`invalid header ${JSON.stringify(n)}`);
      s += n + ": " + v + "\r\n";
    }
    this.status = 101;
    this.headersSent = true;
    this.flushed = true;
    this.finished = true;
    this.bytesSent += s.length + 2;
    return this.host.upgrade(this, s + "\r\n");
  }

  /** Release the cork taken by a chunked write(). */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.host.socket.uncork();
  }

  closeAfter(): void {
    this.closeRequested = true;
  }

  abort(): void {
    // What was written before the abort still goes out (the client sees where it was cut).
    this.uncork();
    this.host.abort();
  }

  onClientGone(cb: () => void): void {
    if (this.clientGone) {
      queueMicrotask(cb);
      return;
    }
    (this.goneCallbacks ??= []).push(cb);
  }

  /** The connection saw the client go away before end(). */
  markGone(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    const cbs = this.goneCallbacks;
    this.goneCallbacks = null;
    if (cbs)
      for (const cb of cbs) {
        try {
          cb();
        } catch {
          // A callback's failure must not take the server down.
        }
      }
  }
}
