/**
 * The proxy handler for one location (nginx's ngx_http_proxy_handler + the upstream
 * state machine): pick a peer, send the request, and either relay the reply, try the
 * next peer (proxy_next_upstream), tunnel a 101, or report 502/504 to the pipeline.
 *
 * Retry rules (ngx_http_upstream_next / ngx_http_upstream_test_next):
 * - only for the conditions listed in proxy_next_upstream, while tries are left
 *   (every server once, capped by proxy_next_upstream_tries) and within
 *   proxy_next_upstream_timeout;
 * - never once the reply has started towards the client (here: once its status line
 *   is accepted, nothing is retried);
 * - POST, LOCK and PATCH are not passed to another server once the request was sent
 *   unless `non_idempotent` is set (a refused connection sent nothing: it may move on);
 * - with proxy_request_buffering off the body cannot be replayed once sent.
 */
import type { Handler, IncomingRequest, ResponseWriter, HeaderList } from "../http/types.js";
import type { Logger } from "../core/log.js";
import { UpstreamClients, type EndpointOptions, type UpstreamUpgrade } from "./client.js";
import { UpstreamFailure, type DispatchRequest, type UpstreamResponse } from "./failure.js";
import { UpstreamGroup, type Selection } from "./upstream.js";
import type { Peer } from "./peer.js";
import { parsePassUrl, upstreamUri, connectHost, PassUrlError, type PassTarget } from "./pass.js";
import {
  addXForwardedFor,
  buildClientResponseHeaders,
  buildUpstreamRequestHead,
  effectiveSetHeaders,
  hiddenSet,
} from "./headers.js";
import { RedirectRewriter } from "./redirect.js";
import { relayBuffered } from "./relay-buffered.js";
import { tunnel } from "./tunnel.js";
import { UpstreamLog } from "./log-vars.js";
import {
  SERVER_DEFAULTS,
  type ProxyOptions,
  type ProxyOutcome,
  type ProxyRequestContext,
  type Template,
  type VarGetter,
} from "./types.js";

/** Shared by every proxy location of a server process. */
export interface ProxyDeps {
  readonly clients: UpstreamClients;
  /** `upstream` blocks by name (lower case). */
  readonly upstreams: ReadonlyMap<string, UpstreamGroup>;
  readonly log: Logger | null;
}

/** Methods nginx will not replay on another server once sent (RFC 9110 §9.2.2). */
const NON_IDEMPOTENT = new Set(["POST", "LOCK", "PATCH"]);

const DEFAULT_KEEPALIVE_TIMEOUT = 60_000;
const SEND_PIECE = 64 * 1024;

/** undici writes an iterable body piece by piece, waiting for 'drain' between pieces. */
function pieces(buf: Buffer): Iterable<Buffer> {
  return {
    *[Symbol.iterator]() {
      for (let off = 0; off < buf.length; off += SEND_PIECE)
        yield buf.subarray(off, off + SEND_PIECE);
    },
  };
}

export class ProxyHandler {
  private readonly staticTarget: PassTarget | null;
  /** The group of a constant proxy_pass, found on first use. */
  private staticGroup: UpstreamGroup | null = null;
  private readonly passTemplate: Template | null;
  private readonly setHeaders: ReadonlyArray<readonly [string, Template]>;
  private readonly hidden: Set<string>;
  private readonly redirect: RedirectRewriter;
  private readonly endpoints = new WeakMap<Peer, EndpointOptions>();
  /** Single-server groups for `proxy_pass http://host:port` targets. */
  private readonly implicit = new Map<string, UpstreamGroup>();

  constructor(
    readonly options: ProxyOptions,
    private readonly deps: ProxyDeps,
    /** The location's prefix, for `proxy_redirect default`. */
    location: string | null,
  ) {
    if (typeof options.pass === "string") {
      this.staticTarget = parsePassUrl(options.pass);
      this.passTemplate = null;
    } else {
      this.staticTarget = null;
      this.passTemplate = options.pass;
    }
    this.setHeaders = effectiveSetHeaders(options.setHeaders);
    this.hidden = hiddenSet(options.hideHeaders, options.passHeaders);
    const t = this.staticTarget;
    this.redirect = new RedirectRewriter(
      options.redirect,
      t === null ? null : { url: t.url, uri: t.uri, location },
    );
  }

  /**
   * Proxy one request. Resolves with what happened; when `handled` is false nothing was
   * written and the caller answers `status` (error_page or res.sendError). HttpErrors
   * from reading the client body (413, 408, 400) are thrown, as from any handler.
   */
  async handle(
    req: IncomingRequest,
    res: ResponseWriter,
    ctx: ProxyRequestContext,
  ): Promise<ProxyOutcome> {
    const o = this.options;
    const ulog = new UpstreamLog();
    let target: PassTarget;
    try {
      target = this.staticTarget ?? parsePassUrl(this.passTemplate!(ctx.vars));
    } catch (err) {
      if (!(err instanceof PassUrlError)) throw err;
      this.deps.log?.error(`${err.message} while proxying, client: ${ctx.clientAddress}`);
      return { handled: false, status: 500, upstream: ulog.vars() };
    }
    const group = this.groupFor(target);
    const vars = proxyVars(ctx, req.headers, target);
    const head = buildUpstreamRequestHead(this.setHeaders, req.headers, o.passRequestHeaders, vars);
    const path = upstreamUri({
      passUri: target.uri,
      passHasVariables: this.passTemplate !== null,
      requestUri: requestUri(req),
      uri: ctx.uri,
      args: ctx.args,
      locationPrefix: ctx.locationPrefix,
      uriChanged: ctx.uriChanged,
    });
    // A front end that cannot hand its socket over gets a plain request sent upstream.
    const upgrade = res.upgrade !== undefined ? head.upgrade : null;
    const keepalive = group.spec.keepalive !== null && o.httpVersion === "1.1" && !head.close;

    // The request body: read whole first (proxy_request_buffering on, and always for a
    // chunked body under HTTP/1.0 as nginx), or streamed and then never replayable.
    const wantBody = o.passRequestBody && !req.body.empty;
    const buffered = o.requestBuffering || (o.httpVersion === "1.0" && req.chunked);
    let bodyBuf: Buffer | null = null;
    let streamBody: StreamedBody | null = null;
    if (wantBody && buffered) bodyBuf = await readAll(req.body);
    else if (wantBody) streamBody = new StreamedBody(req.body[Symbol.asyncIterator]());
    const headers: HeaderList = head.headers;
    if (streamBody !== null && req.contentLength !== null) {
      headers.push(["Content-Length", String(req.contentLength)]);
    }
    // A big buffered body goes in pieces so that proxy_send_timeout sees progress (undici
    // writes a Buffer in one go and reports it sent at once, whatever the socket does).
    const pieced = bodyBuf !== null && bodyBuf.length > SEND_PIECE;
    if (bodyBuf !== null && pieced) headers.push(["Content-Length", String(bodyBuf.length)]);

    let clientGone = false;
    let cancelCurrent: ((why: Error) => void) | null = null;
    res.onClientGone(() => {
      clientGone = true;
      cancelCurrent?.(new Error("client closed connection"));
    });

    const sel = group.begin(ctx.clientAddress, vars);
    if (o.nextUpstreamTries > 0 && sel.tries > o.nextUpstreamTries) sel.tries = o.nextUpstreamTries;
    const started = Date.now();
    const nonIdempotent = NON_IDEMPOTENT.has(req.method);
    const next = o.nextUpstream;
    const timeLeft = (): boolean =>
      o.nextUpstreamTimeout <= 0 || Date.now() - started < o.nextUpstreamTimeout;
    /** May a failed try be passed to the next server? (ngx_http_upstream_next) */
    const mayRetry = (sent: boolean): boolean =>
      next !== null &&
      !clientGone &&
      !(sent && nonIdempotent && !next.nonIdempotent) &&
      !(sent && streamBody !== null) &&
      timeLeft();

    let staleRetry: Peer | null = null;
    let staleUsed = false;
    for (;;) {
      const peer: Peer | null = staleRetry ?? sel.next();
      if (staleRetry !== null) sel.again(staleRetry);
      staleRetry = null;
      if (peer === null) {
        ulog.noLive(group.name);
        this.deps.log?.error(
          `no live upstreams while connecting to upstream, client: ${ctx.clientAddress}, request: "${requestLine(req)}", upstream: "${target.scheme}://${group.name}${path}"`,
        );
        return { handled: false, status: 502, upstream: ulog.vars() };
      }
      const attempt = ulog.start(peer.address);
      const dreq: DispatchRequest = {
        method: req.method,
        path,
        headers,
        body: pieced
          ? pieces(bodyBuf!)
          : (bodyBuf ?? (streamBody !== null ? streamBody.iterable() : null)),
        close: !keepalive || upgrade !== null,
        upgrade,
        readTimeout: o.readTimeout,
        sendTimeout: o.sendTimeout,
      };
      const d = this.deps.clients.dispatch(
        this.endpointFor(peer, target.scheme, group),
        dreq,
        () => {
          attempt.connected();
        },
      );
      cancelCurrent = (why) => {
        d.cancel(why);
      };
      let reply: UpstreamResponse | UpstreamUpgrade;
      try {
        reply = await d.result;
      } catch (err) {
        cancelCurrent = null;
        if (streamBody !== null && streamBody.clientError !== null) {
          sel.release(peer, "ok");
          throw streamBody.clientError;
        }
        const f =
          err instanceof UpstreamFailure
            ? err
            : new UpstreamFailure("error", String(err), false, false);
        const status = f.kind === "timeout" ? 504 : 502;
        attempt.done(status);
        if (clientGone) {
          sel.release(peer, "ok");
          return { handled: true, status: 499, upstream: ulog.vars() };
        }
        // A kept-alive connection the upstream closed just as the request went out (the
        // classic keep-alive race) says nothing about the server: like nginx, which does
        // not count an error on a cached connection as a try, an idempotent request is
        // sent once more to the same server on a fresh connection.
        if (
          keepalive &&
          f.kind === "error" &&
          f.sent &&
          !staleUsed &&
          !nonIdempotent &&
          streamBody === null &&
          !clientGone
        ) {
          staleUsed = true;
          staleRetry = peer;
          sel.release(peer, "ok");
          this.deps.log?.info(
            `${f.message} on a kept-alive upstream connection, retrying ${peer.address}`,
          );
          continue;
        }
        const disabled = sel.release(peer, "failed");
        const where = `while ${f.sent ? "reading response header from" : "connecting to"} upstream, client: ${ctx.clientAddress}, request: "${requestLine(req)}", upstream: "${target.scheme}://${peer.address}${path}"`;
        this.deps.log?.error(`${f.message} ${where}`);
        if (disabled) this.deps.log?.warning(`upstream server temporarily disabled ${where}`);
        const listed =
          next !== null &&
          (f.kind === "error"
            ? next.error
            : f.kind === "timeout"
              ? next.timeout
              : next.invalidHeader);
        if (listed && sel.tries > 0 && mayRetry(f.sent)) continue;
        return { handled: false, status, upstream: ulog.vars() };
      }
      cancelCurrent = null;
      attempt.headers(reply.status);

      if (reply.status === 101) {
        return this.relayUpgrade(reply as UpstreamUpgrade, res, vars, sel, peer, attempt, ulog);
      }
      const r = reply as UpstreamResponse;

      // http_5xx/403/404/429 in proxy_next_upstream: try the next server while one is left;
      // the last try's reply goes to the client as it is (ngx_http_upstream_test_next).
      if (next !== null && next.statuses.has(r.status) && sel.tries > 1 && mayRetry(true)) {
        r.abort();
        attempt.done(r.status);
        if (sel.release(peer, r.status === 403 || r.status === 404 ? "next" : "failed")) {
          this.deps.log?.warning(
            `upstream server temporarily disabled while reading response header from upstream, client: ${ctx.clientAddress}, request: "${requestLine(req)}", upstream: "${target.scheme}://${peer.address}${path}"`,
          );
        }
        continue;
      }
      if (o.interceptErrors !== null && r.status >= 300 && o.interceptErrors(r.status)) {
        r.abort();
        attempt.done(r.status);
        sel.release(peer, "ok");
        return { handled: false, status: r.status, upstream: ulog.vars() };
      }
      return this.relay(
        r,
        req,
        res,
        vars,
        sel,
        peer,
        attempt,
        ulog,
        () => clientGone,
        (c) => (cancelCurrent = c),
      );
    }
  }

  /** The connection settings for a peer, one object per peer (the clients cache by it). */
  private endpointFor(peer: Peer, scheme: "http" | "https", group: UpstreamGroup): EndpointOptions {
    let e = this.endpoints.get(peer);
    if (e === undefined || e.scheme !== scheme) {
      const o = this.options;
      e = {
        scheme,
        ...endpointOf(peer.address),
        connectTimeout: o.connectTimeout,
        keepaliveTimeout: group.spec.keepaliveTimeout,
        keepaliveRequests: group.spec.keepaliveRequests,
      };
      this.endpoints.set(peer, e);
    }
    return e;
  }

  private groupFor(t: PassTarget): UpstreamGroup {
    if (t === this.staticTarget) return (this.staticGroup ??= this.findGroup(t));
    return this.findGroup(t);
  }

  private findGroup(t: PassTarget): UpstreamGroup {
    if (t.unixPath === null && t.noPort) {
      const g = this.deps.upstreams.get(t.host.toLowerCase());
      if (g !== undefined) return g;
    }
    const address = t.unixPath !== null ? `unix:${t.unixPath}` : `${t.host}:${t.port}`;
    let g = this.implicit.get(address);
    if (g === undefined) {
      g = new UpstreamGroup({
        name: address,
        servers: [{ ...SERVER_DEFAULTS, address }],
        balance: "round_robin",
        keepalive: null,
        keepaliveTimeout: DEFAULT_KEEPALIVE_TIMEOUT,
        keepaliveRequests: 1000,
      });
      // Variables can name endless targets; single-server groups hold no state worth keeping.
      if (this.implicit.size >= 1024) this.implicit.clear();
      this.implicit.set(address, g);
    }
    return g;
  }

  private async relay(
    r: UpstreamResponse,
    req: IncomingRequest,
    res: ResponseWriter,
    vars: VarGetter,
    sel: Selection,
    peer: Peer,
    attempt: ReturnType<UpstreamLog["start"]>,
    ulog: UpstreamLog,
    gone: () => boolean,
    setCancel: (c: ((why: Error) => void) | null) => void,
  ): Promise<ProxyOutcome> {
    const o = this.options;
    const headers = buildClientResponseHeaders(r.headers, this.hidden, this.redirect, vars);
    const accel = headerValue(r.headers, "x-accel-buffering")?.toLowerCase();
    const buffering = accel === "no" ? false : accel === "yes" ? true : o.buffering;
    let released = false;
    const finishUpstream = (): void => {
      if (released) return;
      released = true;
      attempt.done(r.status);
      sel.release(peer, "ok");
    };
    setCancel(() => {
      r.abort();
    });
    try {
      // The upstream's reason phrase, as nginx relays its status line; printable ASCII only.
      const reason =
        r.statusText !== "" && /^[\t\x20-\x7e]+$/.test(r.statusText) ? r.statusText : undefined;
      res.writeHead(r.status, headers, reason);
    } catch (err) {
      // A reply the writer refuses (e.g. a field it will not send): free the peer first.
      r.abort();
      finishUpstream();
      throw err;
    }

    if (buffering) {
      const how = await relayBuffered(
        r,
        res,
        gone,
        { memory: o.bufferMemory, maxFile: o.maxTempFileSize, tempPath: o.tempPath },
        finishUpstream,
      );
      if (how === "broken") {
        // The upstream broke off mid-body: the client must not take it as complete.
        this.deps.log?.error(
          `upstream prematurely closed connection while reading upstream, request: "${requestLine(req)}", upstream: "${peer.address}"`,
        );
        res.abort();
      }
      return { handled: true, status: r.status, upstream: ulog.vars() };
    }

    await new Promise<void>((resolve) => {
      r.attach({
        data(chunk) {
          if (gone()) return true;
          if (res.write(chunk)) return true;
          void res.drain().then(() => {
            r.resume();
          });
          return false;
        },
        end() {
          if (!gone()) res.end();
          resolve();
        },
        error() {
          res.abort();
          resolve();
        },
      });
      res.onClientGone(() => {
        r.abort();
        resolve();
      });
    });
    finishUpstream();
    return { handled: true, status: r.status, upstream: ulog.vars() };
  }

  private async relayUpgrade(
    u: UpstreamUpgrade,
    res: ResponseWriter,
    vars: VarGetter,
    sel: Selection,
    peer: Peer,
    attempt: ReturnType<UpstreamLog["start"]>,
    ulog: UpstreamLog,
  ): Promise<ProxyOutcome> {
    if (res.upgrade === undefined) {
      u.socket.destroy();
      attempt.done(502);
      sel.release(peer, "ok");
      return { handled: false, status: 502, upstream: ulog.vars() };
    }
    const headers = buildClientResponseHeaders(u.headers, this.hidden, this.redirect, vars);
    const proto = headerValue(u.headers, "upgrade");
    headers.push(["Connection", "upgrade"]);
    if (proto !== null) headers.push(["Upgrade", proto]);
    const { socket, head } = res.upgrade(headers);
    await tunnel(socket, u.socket, head, this.options.readTimeout);
    attempt.done(101);
    sel.release(peer, "ok");
    return { handled: true, status: 101, upstream: ulog.vars() };
  }
}

/** A request body streamed to the upstream: one pass only, errors kept for the caller. */
class StreamedBody {
  clientError: Error | null = null;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  /** A fresh wrapper per try: a try that never started reading leaves the body intact. */
  iterable(): AsyncIterable<Buffer> {
    return { [Symbol.asyncIterator]: () => this.pull() };
  }
  private async *pull(): AsyncGenerator<Buffer> {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.it.next();
      } catch (err) {
        this.clientError = err instanceof Error ? err : new Error(String(err));
        throw err;
      }
      if (r.done === true) return;
      yield r.value;
    }
  }
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function headerValue(h: HeaderList, lower: string): string | null {
  for (const [n, v] of h) if (n.length === lower.length && n.toLowerCase() === lower) return v;
  return null;
}

/** $request_uri: the target as sent, reduced to path?query for absolute-form. */
function requestUri(req: IncomingRequest): string {
  if (req.targetForm === "origin") return req.target;
  return req.path + (req.query !== "" ? "?" + req.query : "");
}

function requestLine(req: IncomingRequest): string {
  return `${req.method} ${req.target} HTTP/${req.versionMajor}.${req.versionMinor}`;
}

/** Where to connect for a peer address ("host:port", "[v6]:port", "unix:/path"). */
export function endpointOf(address: string): {
  host: string;
  port: number;
  socketPath: string | null;
} {
  if (address.startsWith("unix:"))
    return { host: "localhost", port: 0, socketPath: address.slice(5) };
  const m = /^(.*):(\d+)$/.exec(address);
  const hostPart = m === null ? address : m[1]!;
  const port = m === null ? 80 : Number(m[2]);
  const host = hostPart.startsWith("[") ? hostPart.slice(1, -1) : hostPart;
  return { host, port, socketPath: null };
}

/** The request's variables plus the proxy's own ($proxy_host, $proxy_port, ...). */
function proxyVars(ctx: ProxyRequestContext, clientHeaders: HeaderList, t: PassTarget): VarGetter {
  let xff: string | null = null;
  return (name) => {
    switch (name) {
      case "proxy_host":
        return t.proxyHost;
      case "proxy_port":
        return t.proxyPort;
      case "proxy_add_x_forwarded_for":
        xff ??= addXForwardedFor(clientHeaders, ctx.vars("remote_addr") ?? ctx.clientAddress);
        return xff;
      default:
        return ctx.vars(name);
    }
  };
}

/** Convenience for tests and simple wiring: a Handler answering 5xx with res.sendError. */
export function proxyRequest(
  handler: ProxyHandler,
  req: IncomingRequest,
  res: ResponseWriter,
  ctx: ProxyRequestContext,
): Promise<ProxyOutcome> {
  return handler.handle(req, res, ctx).then((out) => {
    if (!out.handled && !res.headersSent) res.sendError(out.status);
    return out;
  });
}

/**
 * A plain Handler for a location that only proxies: builds the context with `contextOf`
 * and answers unhandled outcomes with res.sendError (no error_page).
 */
export function createProxyHandler(
  options: ProxyOptions,
  deps: ProxyDeps,
  location: string | null,
  contextOf: (req: IncomingRequest) => ProxyRequestContext,
  onOutcome?: (req: IncomingRequest, out: ProxyOutcome) => void,
): Handler {
  const h = new ProxyHandler(options, deps, location);
  return async (req, res) => {
    const out = await proxyRequest(h, req, res, contextOf(req));
    onOutcome?.(req, out);
  };
}

export { connectHost };
