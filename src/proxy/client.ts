/**
 * Upstream connections (see docs/architecture.md, "Proxy"): plain http:// requests with
 * no body or a buffered one go through the plain-socket client (h1-client.ts); the rest
 * through undici, one Pool per upstream server and connection settings, driven through
 * the low-level `dispatch` API so that the proxy sees raw header lists, controls
 * backpressure chunk by chunk and gets the socket of a `101` for tunnelling.
 *
 * What undici cannot do, and what we do instead:
 * - It always writes `HTTP/1.1` request lines. `proxy_http_version 1.0` (nginx's
 *   default) is approximated by HTTP/1.1 with `Connection: close` and no keep-alive,
 *   which is what nginx's 1.0 requests mean to an upstream (one request per connection).
 * - It forbids `Expect`, `TE`, `Keep-Alive` and `Upgrade` request fields: nginx drops the
 *   first three by default; Upgrade goes through undici's `upgrade` option.
 * - It has no send timeout: `proxy_send_timeout` is a timer here, re-armed per body chunk.
 * - `keepalive N` caps idle connections in nginx; undici keeps every idle connection for
 *   `keepalive_timeout`, so N only switches keep-alive on.
 */
import { Pool, errors as undiciErrors } from "undici";
import type { Dispatcher } from "undici";
import type { Duplex } from "node:stream";
import type { HeaderList } from "../http/types.js";
import {
  UpstreamFailure,
  type BodySink,
  type DispatchRequest,
  type FailureKind,
  type UpstreamResponse,
} from "./failure.js";
import { PlainPool, type PlainEndpoint } from "./h1-client.js";

/** Where and how to connect (see PlainEndpoint), and the scheme. */
export interface EndpointOptions extends PlainEndpoint {
  readonly scheme: "http" | "https";
}

const MAX_POOLS = 256;

/** A request on its way: the head (or the 101) once it comes, and a way to drop it. */
export interface Dispatched {
  readonly result: Promise<UpstreamResponse | UpstreamUpgrade>;
  cancel(why: Error): void;
}

/**
 * One pool per distinct endpoint + connection settings, shared by all locations: a
 * plain-socket one (h1-client.ts) for http:// requests without a streamed body or an
 * upgrade, undici's Pool for the rest.
 */
export class UpstreamClients {
  private readonly pools = new Map<string, Pool>();
  private readonly plain = new Map<string, PlainPool>();
  private readonly byEndpoint = new WeakMap<EndpointOptions, PlainPool>();
  private tick = 0;

  /** Send `req` to the endpoint `e`; `onConnected` runs when a connection carries it. */
  dispatch(e: EndpointOptions, req: DispatchRequest, onConnected: () => void): Dispatched {
    if (e.scheme === "http" && req.upgrade === null) {
      const x = this.plainPool(e).dispatch(req, onConnected);
      if (x !== null) return x;
    }
    return dispatchUpstream(this.pool(e), req, onConnected);
  }

  private plainPool(e: EndpointOptions): PlainPool {
    // The handler passes the same EndpointOptions object for a peer: no key per request.
    let p = this.byEndpoint.get(e);
    if (p === undefined || p.retired) {
      const key = endpointKey(e);
      p = this.plain.get(key);
      if (p === undefined) {
        this.evictPlain();
        p = new PlainPool(e);
        this.plain.set(key, p);
      }
      this.byEndpoint.set(e, p);
    }
    p.used = ++this.tick;
    return p;
  }

  /** As evictIdle, for the plain pools: least recently used ones with nothing running. */
  private evictPlain(): void {
    if (this.plain.size < MAX_POOLS) return;
    const idle = [...this.plain].filter(([, p]) => p.running === 0);
    idle.sort((a, b) => a[1].used - b[1].used);
    for (const [key, p] of idle) {
      if (this.plain.size < MAX_POOLS) break;
      this.plain.delete(key);
      void p.close();
    }
  }

  pool(e: EndpointOptions): Pool {
    const key = endpointKey(e);
    let p = this.pools.get(key);
    if (p !== undefined) {
      // Most recently used last: the Map's order is the eviction order.
      this.pools.delete(key);
      this.pools.set(key, p);
    } else {
      this.evictIdle();
      const host = e.host.includes(":") ? `[${e.host}]` : e.host;
      const origin =
        e.socketPath !== null ? `${e.scheme}://localhost` : `${e.scheme}://${host}:${e.port}`;
      p = new Pool(origin, {
        connections: null,
        pipelining: 1,
        connect: { timeout: e.connectTimeout },
        ...(e.socketPath !== null ? { socketPath: e.socketPath } : {}),
        keepAliveTimeout: Math.max(1, e.keepaliveTimeout),
        keepAliveMaxTimeout: Math.max(1, e.keepaliveTimeout),
        ...(e.keepaliveRequests > 0 ? { maxRequestsPerClient: e.keepaliveRequests } : {}),
        // Timeouts are per request (proxy_read_timeout); these are only fallbacks.
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /**
   * `proxy_pass http://$host...` can name any number of servers: past MAX_POOLS the
   * least recently used pools with nothing in flight are closed.
   */
  private evictIdle(): void {
    if (this.pools.size < MAX_POOLS) return;
    for (const [key, pool] of this.pools) {
      if (this.pools.size < MAX_POOLS) break;
      const st = pool.stats;
      if (st.running > 0 || st.pending > 0) continue;
      this.pools.delete(key);
      void pool.close().catch(() => undefined);
    }
  }

  /** undici pools currently open (for tests and stats). */
  get size(): number {
    return this.pools.size;
  }

  /** Close every pool (graceful: in-flight requests finish). */
  async close(): Promise<void> {
    const all = [...this.pools.values(), ...this.plain.values()];
    this.pools.clear();
    this.plain.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }

  /** Abort everything now. */
  async destroy(): Promise<void> {
    const all = [...this.pools.values(), ...this.plain.values()];
    this.pools.clear();
    this.plain.clear();
    await Promise.allSettled(all.map((p) => p.destroy()));
  }
}

function endpointKey(e: EndpointOptions): string {
  return `${e.scheme}|${e.socketPath ?? ""}|${e.host}|${e.port}|${e.connectTimeout}|${e.keepaliveTimeout}|${e.keepaliveRequests}`;
}

/** Map an undici/socket error to nginx's failure classes. */
export function classify(err: unknown): FailureKind {
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return "timeout";
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT") return "timeout";
  if (typeof code === "string" && code.startsWith("HPE_")) return "invalid_header";
  if (err instanceof undiciErrors.HTTPParserError) return "invalid_header";
  return "error";
}

export interface UpstreamUpgrade {
  readonly status: 101;
  readonly headers: HeaderList;
  readonly socket: Duplex;
}

function rawToList(raw: Buffer[] | string[] | null): HeaderList {
  const out: HeaderList = [];
  if (raw === null) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    out.push([raw[i]!.toString("latin1"), raw[i + 1]!.toString("latin1")]);
  }
  return out;
}

/**
 * Send one request on an undici `pool`. Resolves at the response head (or the 101), rejects with
 * an UpstreamFailure before it. `abortSignal` cancels (client gone).
 */
export function dispatchUpstream(
  pool: Dispatcher,
  req: DispatchRequest,
  onConnected: () => void,
): Dispatched {
  let abortFn: ((err?: Error) => void) | null = null;
  let cancelled: Error | null = null;
  let sent = false;
  let headersSeen = false;
  let sendTimer: NodeJS.Timeout | null = null;
  let sink: BodySink | null = null;
  const pending: Buffer[] = [];
  let ended = false;
  let failed: UpstreamFailure | null = null;
  let resumeFn: () => void = () => {};
  let settle!: {
    ok: (v: UpstreamResponse | UpstreamUpgrade) => void;
    fail: (e: UpstreamFailure) => void;
  };
  const result = new Promise<UpstreamResponse | UpstreamUpgrade>((ok, fail) => {
    settle = { ok, fail };
  });

  const clearSend = (): void => {
    if (sendTimer !== null) clearTimeout(sendTimer);
    sendTimer = null;
  };
  const armSend = (): void => {
    if (req.sendTimeout <= 0) return;
    clearSend();
    sendTimer = setTimeout(() => {
      sendTimer = null;
      abortFn?.(
        new UpstreamFailure("timeout", "upstream timed out while sending request", true, false),
      );
    }, req.sendTimeout);
  };

  const fail = (err: unknown): void => {
    clearSend();
    const f =
      err instanceof UpstreamFailure
        ? err
        : new UpstreamFailure(
            classify(err),
            (err as Error)?.message ?? String(err),
            sent,
            headersSeen,
          );
    if (!headersSeen) {
      settle.fail(new UpstreamFailure(f.kind, f.message, f.sent || sent, false));
      return;
    }
    failed = new UpstreamFailure(f.kind, f.message, true, true);
    if (sink !== null) sink.error(failed);
  };

  const handler: Dispatcher.DispatchHandlers = {
    onConnect(abort) {
      abortFn = abort;
      if (cancelled !== null) {
        abort(cancelled);
        return;
      }
      sent = true;
      onConnected();
      armSend();
    },
    onBodySent() {
      armSend();
    },
    onError(err) {
      fail(err);
    },
    onUpgrade(_statusCode, rawHeaders, socket) {
      clearSend();
      headersSeen = true;
      settle.ok({ status: 101, headers: rawToList(rawHeaders), socket });
    },
    onHeaders(statusCode, rawHeaders, resume, statusText) {
      // 1xx interim responses (other than 101) are not forwarded.
      if (statusCode < 200) return true;
      clearSend();
      headersSeen = true;
      resumeFn = resume;
      settle.ok({
        status: statusCode,
        statusText,
        headers: rawToList(rawHeaders),
        attach(s) {
          sink = s;
          let more = true;
          while (pending.length > 0) more = s.data(pending.shift()!) && more;
          if (failed !== null) s.error(failed);
          else if (ended) s.end();
          else if (more) resumeFn();
        },
        resume() {
          resumeFn();
        },
        abort() {
          abortFn?.(new Error("response dropped"));
        },
      });
      return true;
    },
    onData(chunk) {
      if (sink === null) {
        pending.push(chunk);
        return false;
      }
      return sink.data(chunk);
    },
    onComplete() {
      ended = true;
      if (sink !== null) sink.end();
    },
  };
  // undici calls this when the request has been fully written.
  (handler as { onRequestSent?: () => void }).onRequestSent = clearSend;

  // undici accepts any (async) iterable body at runtime; its types list only streams.
  const opts = {
    method: req.method as Dispatcher.HttpMethod,
    path: req.path,
    headers: req.headers.flat(),
    body: req.body,
    // Only force a close: undici's own choice (e.g. close after HEAD) must stand otherwise.
    ...(req.close ? { reset: true } : {}),
    upgrade: req.upgrade,
    headersTimeout: req.readTimeout,
    bodyTimeout: req.readTimeout,
  } as Dispatcher.DispatchOptions;
  try {
    pool.dispatch(opts, handler);
  } catch (err) {
    fail(err);
  }
  return {
    result,
    cancel(why) {
      cancelled = why;
      abortFn?.(why);
    },
  };
}
