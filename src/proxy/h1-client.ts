/**
 * A plain-socket HTTP/1.1 client for the proxy's common exchange: an `http://` upstream,
 * no body or a buffered one, no upgrade. undici stays for everything else (streamed and
 * big bodies, upgrades, https). With an upstream that closes every connection (Gunicorn
 * sync, or nginx's default `Connection: close`) undici's per-connection work (its
 * connector, a WASM parser per socket, an Error with a stack trace per close) was most
 * of the proxy's CPU per request. It writes the request head as undici does (host first, then
 * connection, the fields in order, content-length) so upstreams see the same bytes.
 *
 * Timeouts use the socket's own inactivity timer: proxy_connect_timeout until connected,
 * proxy_send_timeout while a write waits for drain, proxy_read_timeout afterwards.
 */
import { connect, type NetConnectOpts, type Socket } from "node:net";
import type { HeaderList } from "../http/types.js";
import {
  UpstreamFailure,
  type BodySink,
  type DispatchRequest,
  type FailureKind,
  type UpstreamResponse,
} from "./failure.js";
import {
  ChunkedDecoder,
  InvalidResponse,
  MAX_HEAD,
  framingOf,
  parseHead,
  type Framing,
} from "./h1-parse.js";

export interface PlainEndpoint {
  /** host (IPv6 without brackets) and port, or a unix socket path. */
  readonly host: string;
  readonly port: number;
  readonly socketPath: string | null;
  readonly connectTimeout: number;
  /** Idle keep-alive time (upstream `keepalive_timeout`). */
  readonly keepaliveTimeout: number;
  /** Requests per connection (upstream `keepalive_requests`); 0 = unlimited. */
  readonly keepaliveRequests: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_PATH = /[^\u0021-\u00ff]/;
/** Fields undici treats specially; a request carrying one goes through undici. */
const SPECIAL = new Set([
  "connection",
  "keep-alive",
  "upgrade",
  "expect",
  "transfer-encoding",
  "content-length",
]);
/** Methods whose requests carry a body (undici sends content-length: 0 for them). */
const EXPECTS_PAYLOAD = new Set(["PUT", "POST", "PATCH", "QUERY", "PROPFIND", "PROPPATCH"]);
const CRLFCRLF = Buffer.from("\r\n\r\n");

/** The Conn a socket belongs to (the listeners below are shared by every socket). */
const CONN = Symbol("conn");
type ConnSocket = Socket & { [CONN]: Conn };

// One set of listener functions for all connections (no closures per connection): each
// finds its Conn through the socket and hands the event to the current owner, if any.
function onSocketConnect(this: ConnSocket): void {
  const c = this[CONN];
  c.connected = true;
  c.owner?.onConnect();
}
/**
 * Reads land in one shared buffer (net's `onread`): no ArrayBuffer per read and no trip
 * through the Readable machinery. The callback runs synchronously per read, so one
 * buffer serves every socket; what is read is copied out at once (a small copy, from
 * Buffer's pool), so nothing downstream ever holds the shared memory.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
function onSocketRead(this: ConnSocket, n: number, shared: Buffer): boolean {
  const c = this[CONN];
  if (c.owner !== null) {
    const d = Buffer.allocUnsafe(n);
    shared.copy(d, 0, 0, n);
    c.owner.onData(d);
  } else c.pool.drop(c);
  return true;
}
function onSocketEnd(this: ConnSocket): void {
  const c = this[CONN];
  if (c.owner !== null) c.owner.onEnd();
  else c.pool.drop(c);
}
function onSocketError(this: ConnSocket, err: NodeJS.ErrnoException): void {
  const c = this[CONN];
  if (c.owner !== null) c.owner.onSocketError(err);
  else c.pool.drop(c);
}
function onSocketClose(this: ConnSocket, hadError: boolean): void {
  const c = this[CONN];
  if (c.owner !== null) c.owner.onClose();
  c.pool.forget(c);
  if (c.recyclable && !hadError) recycle(this);
}
function onSocketTimeout(this: ConnSocket): void {
  const c = this[CONN];
  if (c.owner !== null) c.owner.onTimeout();
  else c.pool.drop(c);
}

/**
 * Closed sockets kept for the next connection: net.Socket supports connect() again once
 * 'close' was emitted (documented), which skips building a new Duplex and adding its
 * listeners; with an upstream that closes every connection that was a tenth of the
 * proxy's CPU per request. Only sockets that ended cleanly (no error, nothing queued,
 * not paused) come here, so connect() finds the state a new socket would have.
 */
const spare: ConnSocket[] = [];
const MAX_SPARE = 256;

function recycle(s: ConnSocket): void {
  if (spare.length >= MAX_SPARE) return;
  if (s.writableLength !== 0 || s.writableEnded || s.readableLength !== 0 || s.isPaused()) return;
  if (s.listenerCount("drain") !== 0) s.removeAllListeners("drain");
  spare.push(s);
}

/** One upstream connection; its listeners are bound once and follow the current owner. */
class Conn {
  owner: Exchange | null = null;
  requests = 0;
  connected = false;
  /** Destroyed by us after a complete exchange: its socket may serve a later connection. */
  recyclable = false;
  /** The socket's inactivity timeout now (setting it again costs a new timer). */
  private timeoutMs = -1;
  constructor(
    readonly socket: Socket,
    readonly pool: PlainPool,
    reused: boolean,
  ) {
    (socket as ConnSocket)[CONN] = this;
    if (reused) return;
    socket.on("connect", onSocketConnect);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    socket.on("timeout", onSocketTimeout);
  }

  /** Arm the inactivity timeout (0 = none); any traffic restarts it. */
  timeout(ms: number): void {
    if (ms === this.timeoutMs) return;
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }
}

/** The connections to one endpoint: idle ones kept for keep-alive, all tracked for close. */
export class PlainPool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  running = 0;
  /** Last use (UpstreamClients' eviction order). */
  used = 0;
  private closed = false;
  private drained: (() => void) | null = null;
  /** undici's default Host: the origin's host[:port] (brackets kept for IPv6). */
  readonly hostHeader: string;

  /** net.connect's options, built once (the host is used as given: no per-connection work). */
  private readonly connectOptions: NetConnectOpts;

  constructor(readonly e: PlainEndpoint) {
    const onread = { buffer: READ_BUFFER, callback: onSocketRead };
    this.connectOptions =
      e.socketPath !== null
        ? { path: e.socketPath, onread }
        : { host: e.host, port: e.port, onread };
    const h = e.host.includes(":") ? `[${e.host}]` : e.host;
    this.hostHeader = e.socketPath !== null ? "localhost" : e.port === 80 ? h : `${h}:${e.port}`;
  }

  /** Closed (or evicted): a new pool must be made for the endpoint. */
  get retired(): boolean {
    return this.closed;
  }

  /** Send `req`; null when it needs undici (a field undici handles itself). */
  dispatch(req: DispatchRequest, onConnected: () => void): Exchange | null {
    const body = req.body;
    if (body !== null && !Buffer.isBuffer(body)) return null;
    const x = new Exchange(this, req, body, onConnected);
    if (!x.buildHead()) return null;
    this.running++;
    x.start(this.take(req.close));
    return x;
  }

  private take(fresh: boolean): Conn {
    if (!fresh && !this.closed) {
      const c = this.idle.pop();
      if (c !== undefined) return c;
    }
    const old = spare.pop();
    const c =
      old !== undefined
        ? new Conn(old.connect(this.connectOptions), this, true)
        : new Conn(connect(this.connectOptions), this, false);
    this.all.add(c);
    return c;
  }

  /**
   * The exchange on `c` ended; keep the connection for the next request or close it.
   * `clean`: the exchange completed (nothing of it is left in the socket's state).
   */
  done(c: Conn, keep: boolean, clean = false): void {
    this.running--;
    c.owner = null;
    if (keep && !this.closed && !c.socket.destroyed) {
      c.timeout(Math.max(1, this.e.keepaliveTimeout));
      this.idle.push(c);
    } else {
      c.recyclable = clean && !c.socket.destroyed;
      c.socket.destroy();
    }
    if (this.running === 0 && this.drained !== null) this.drained();
  }

  /** An idle connection the server closed, wrote to or that timed out. */
  drop(c: Conn): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    c.socket.destroy();
  }

  forget(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Graceful: idle connections close now, the rest once their exchange ends. */
  close(): Promise<void> {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
    if (this.running === 0) return Promise.resolve();
    return new Promise((r) => {
      this.drained = r;
    });
  }

  destroy(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    for (const c of [...this.all]) c.socket.destroy();
    return Promise.resolve();
  }
}

type Settle = {
  ok: (r: UpstreamResponse) => void;
  fail: (f: UpstreamFailure) => void;
};

/** One request/response on a Conn; it is the UpstreamResponse the proxy relays. */
export class Exchange implements UpstreamResponse {
  status = 0;
  statusText = "";
  headers: HeaderList = [];
  readonly result: Promise<UpstreamResponse>;
  private settle!: Settle;
  private conn: Conn | null = null;
  private head = "";
  private keepIntent = false;
  /** keepalive_requests when keep-alive is wanted, else 0. */
  private keepMax = 0;
  private sent = false;
  private headersSeen = false;
  private finished = false;
  private keep = false;
  private buf: Buffer | null = null;
  private framing: Framing = { kind: "none" };
  private left = 0;
  private chunked: ChunkedDecoder | null = null;
  private sink: BodySink | null = null;
  private pending: Buffer[] | null = null;
  /** The socket was paused for this exchange (no reader yet, or the sink is full). */
  private paused = false;
  private ended = false;
  private failed: UpstreamFailure | null = null;

  constructor(
    private readonly pool: PlainPool,
    private readonly req: DispatchRequest,
    private readonly body: Buffer | null,
    private readonly onConnected: () => void,
  ) {
    this.result = new Promise<UpstreamResponse>((ok, fail) => {
      this.settle = { ok, fail };
    });
  }

  /** The request head as undici writes it; false when undici must send it instead. */
  buildHead(): boolean {
    const r = this.req;
    let host: string | null = null;
    let fields = "";
    for (const [name, value] of r.headers) {
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) return false;
      const n = name.length;
      const lower = n === 4 || (n >= 6 && n <= 17) ? name.toLowerCase() : "";
      if (lower === "host") {
        if (host !== null) return false;
        host = value;
      } else if (SPECIAL.has(lower)) return false;
      else fields += `${name}: ${value}\r\n`;
    }
    if (BAD_PATH.test(r.path) || r.path[0] !== "/" || !TOKEN.test(r.method)) return false;
    const len = this.body === null ? 0 : this.body.length;
    const p = this.pool;
    const max = p.e.keepaliveRequests;
    const payload = EXPECTS_PAYLOAD.has(r.method);
    // undici closes after HEAD and after a body on a method that does not expect one.
    this.keepIntent = !r.close && r.method !== "HEAD" && (len === 0 || payload);
    this.head =
      `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host ?? p.hostHeader}\r\n` +
      (this.keepIntent ? "connection: keep-alive\r\n" : "connection: close\r\n") +
      fields +
      (len > 0 || payload ? `content-length: ${len}\r\n\r\n` : "\r\n");
    if (this.keepIntent && max > 0) this.keepMax = max;
    return true;
  }

  start(c: Conn): void {
    this.conn = c;
    c.owner = this;
    c.requests++;
    if (this.keepMax > 0 && c.requests >= this.keepMax && this.keepIntent) {
      // The last request nginx's keepalive_requests allows on this connection.
      this.keepIntent = false;
      this.head = this.head.replace("connection: keep-alive\r\n", "connection: close\r\n");
    }
    if (c.connected) {
      this.onConnect();
    } else {
      c.timeout(Math.max(0, this.pool.e.connectTimeout));
    }
  }

  onConnect(): void {
    const c = this.conn;
    if (c === null || this.finished) return;
    this.sent = true;
    this.onConnected();
    if (this.finished) return;
    const s = c.socket;
    let ok: boolean;
    if (this.body !== null && this.body.length > 0) {
      s.cork();
      s.write(this.head, "latin1");
      ok = s.write(this.body);
      s.uncork();
    } else {
      ok = s.write(this.head, "latin1");
    }
    this.head = "";
    if (ok) {
      c.timeout(this.req.readTimeout);
    } else {
      c.timeout(this.req.sendTimeout);
      s.once("drain", () => {
        if (this.conn === c && !this.finished) c.timeout(this.req.readTimeout);
      });
    }
  }

  onData(d: Buffer): void {
    if (this.finished) return;
    if (this.headersSeen) {
      this.bodyBytes(d);
      this.holdUntilAttached();
      return;
    }
    let buf = this.buf === null ? d : Buffer.concat([this.buf, d]);
    try {
      for (;;) {
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD) throw new InvalidResponse("upstream sent too big header");
          this.buf = buf;
          return;
        }
        if (end > MAX_HEAD) throw new InvalidResponse("upstream sent too big header");
        const h = parseHead(buf, end);
        buf = buf.subarray(end + 4);
        if (h.status === 101) throw new InvalidResponse("upstream sent unexpected 101");
        // 1xx interim responses are not forwarded.
        if (h.status < 200) continue;
        this.buf = null;
        this.status = h.status;
        this.statusText = h.statusText;
        this.headers = h.headers;
        this.framing = framingOf(h, this.req.method);
        this.keep =
          this.keepIntent &&
          h.minor === 1 &&
          !h.closeToken &&
          this.framing.kind !== "close" &&
          !(h.transferEncoding !== null && h.contentLength !== null);
        if (this.framing.kind === "length") this.left = this.framing.length;
        else if (this.framing.kind === "chunked") {
          this.chunked = new ChunkedDecoder((piece) => {
            this.deliver(piece);
          });
        }
        this.headersSeen = true;
        break;
      }
    } catch (err) {
      this.fail("invalid_header", (err as Error).message);
      return;
    }
    this.settle.ok(this);
    if (this.framing.kind === "none") {
      if (buf.length > 0) this.keep = false;
      this.complete();
    } else if (buf.length > 0) this.bodyBytes(buf);
    this.holdUntilAttached();
  }

  /** Body bytes wait for attach(): read no more until then (unless the body is all here). */
  private holdUntilAttached(): void {
    if (!this.finished && this.sink === null && this.pending !== null) this.pause();
  }

  private bodyBytes(d: Buffer): void {
    switch (this.framing.kind) {
      case "length": {
        const take = Math.min(this.left, d.length);
        this.left -= take;
        if (take < d.length) this.keep = false;
        this.deliver(take === d.length ? d : d.subarray(0, take));
        if (this.left === 0) this.complete();
        return;
      }
      case "chunked": {
        let done: boolean;
        try {
          done = this.chunked!.push(d);
        } catch (err) {
          this.fail("invalid_header", (err as Error).message);
          return;
        }
        if (done) {
          if (this.chunked!.extra > 0) this.keep = false;
          this.complete();
        }
        return;
      }
      case "close":
        this.deliver(d);
        return;
      case "none":
        this.keep = false;
        return;
    }
  }

  private deliver(piece: Buffer): void {
    if (this.finished) return;
    if (this.sink !== null) {
      if (!this.sink.data(piece)) this.pause();
      return;
    }
    // Held until attach(); onData pauses the socket if the body goes on after this read.
    (this.pending ??= []).push(piece);
  }

  private pause(): void {
    if (this.paused || this.conn === null) return;
    this.paused = true;
    this.conn.socket.pause();
  }

  private unpause(): void {
    if (!this.paused || this.conn === null) return;
    this.paused = false;
    this.conn.socket.resume();
  }

  /** The response is complete; `atEof`: the upstream's close delimited it. */
  private complete(atEof = false): void {
    if (this.finished) return;
    this.unpause();
    this.finished = true;
    const c = this.conn!;
    this.conn = null;
    this.pool.done(c, this.keep, !atEof);
    this.ended = true;
    if (this.sink !== null) this.sink.end();
  }

  onEnd(): void {
    if (this.finished) return;
    if (this.headersSeen && this.framing.kind === "close") {
      this.keep = false;
      this.complete(true);
      return;
    }
    this.fail("error", "upstream prematurely closed connection");
  }

  onSocketError(err: NodeJS.ErrnoException): void {
    this.fail(err.code === "ETIMEDOUT" ? "timeout" : "error", err.message);
  }

  onClose(): void {
    this.fail("error", "upstream prematurely closed connection");
  }

  onTimeout(): void {
    this.fail("timeout", "upstream timed out (110: Connection timed out)");
  }

  private fail(kind: FailureKind, message: string): void {
    if (this.finished) return;
    this.finished = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) this.pool.done(c, false);
    const f = new UpstreamFailure(kind, message, this.sent, this.headersSeen);
    if (!this.headersSeen) {
      this.settle.fail(f);
      return;
    }
    this.failed = f;
    if (this.sink !== null) this.sink.error(f);
  }

  /** The client went away (or a retry moved on): drop the exchange. */
  cancel(why: Error): void {
    this.fail("error", why.message);
  }

  attach(sink: BodySink): void {
    this.sink = sink;
    let more = true;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) for (const p of pending) more = sink.data(p) && more;
    if (this.failed !== null) sink.error(this.failed);
    else if (this.ended) sink.end();
    else if (more) this.unpause();
  }

  resume(): void {
    if (!this.finished) this.unpause();
  }

  abort(): void {
    this.fail("error", "response dropped");
  }
}
