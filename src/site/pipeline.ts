/**
 * The per-request pipeline, nginx's phases in nginx's order (ngx_http_core_module.c):
 *
 *   listen group (by local address) → virtual server (Host) → $uri normalised (400)
 *   → server rewrite → find location (internal-only → 404; auto-redirect → 301;
 *     client_max_body_size → 413) → location rewrite (`last` or a flag-less rewrite
 *     searches again, at most 10 URI changes, then 500) → allow/deny (403)
 *   → try_files → content: return | proxy_pass | app_pass | static files
 *   → special responses through error_page (once) → add_header / expires (the writer)
 *   → access log.
 *
 * Internal redirects (try_files, error_page, index, rewrite) restart at the server
 * rewrite phase; a named location starts at its own rewrite phase.
 */
import { HttpError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import {
  evaluate,
  findListenGroup,
  findNamedLocation,
  matchLocation,
  normalizeUri,
  type ErrorPage,
  type ListenGroup,
  type Location,
  type VariableLookup,
} from "../config/nginx/index.js";
import type { Handler, HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import { probeStatic, serveStaticNow, type StaticOutcome } from "../static/index.js";
import { accessAllowed } from "./access.js";
import { requestView } from "./request-view.js";
import { SiteResponse } from "./response.js";
import { runScript, type ScriptResult } from "./script.js";
import { ServerChooser } from "./server-choice.js";
import type { Site } from "./site.js";
import { RequestState } from "./state.js";
import { staticOptionsFor } from "./static-options.js";

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/**
 * What a phase returns: nothing when it finished synchronously (the common case: no
 * phase had to wait), else the promise of its end. Phases chain synchronously and
 * only fall back to promises from the first step that is really asynchronous, so a
 * request that waits for nothing costs no promise or microtask here.
 */
type Phase = void | Promise<void>;

/** Thrown to unwind when the request got its answer deep inside a phase. */
class Done extends Error {
  static readonly it = new Done("answered");
}

function splitArgs(uri: string, args: string): { uri: string; args: string } {
  const q = uri.indexOf("?");
  return q < 0 ? { uri, args } : { uri: uri.slice(0, q), args: uri.slice(q + 1) };
}

/**
 * The handler of one listener. `site()` is read per request, so a reload switches
 * every new request to the new config while requests in flight finish on the old one.
 * `groupKey` names the listener's own group; a wildcard listener also serves the
 * groups of specific addresses on its port (found by the connection's local address).
 *
 * @example server.addListener("0.0.0.0:8080", { handler: siteHandler(() => site, "0.0.0.0:8080") })
 */
export function siteHandler(site: () => Site, groupKey: string): Handler {
  // The listener's group, when it is the only one on its socket (the common case): no
  // per-request lookup by local address. Recomputed when a reload brings a new Site.
  // The Pipeline (no per-request state) and its Host memory live as long as the Site.
  let seen: Site | null = null;
  let pipe: Pipeline | null = null;
  return (req, res) => {
    const s = site();
    if (s !== seen || pipe === null) {
      seen = s;
      pipe = new Pipeline(s, groupKey, soleGroup(s, groupKey), new ServerChooser());
    }
    return pipe.handle(req, res);
  };
}

/** The group of `key` if no other group can arrive on the same socket, else null. */
function soleGroup(site: Site, key: string): ListenGroup | null {
  const groups = site.config.listenGroups;
  const g = groups.find((x) => x.key === key);
  if (g === undefined) return null;
  const port = g.listen.port;
  if (g.listen.unix !== null || groups.every((x) => x === g || x.listen.port !== port)) return g;
  return null;
}

/**
 * A path nginx's normalisation leaves as it is: "/" then only [A-Za-z0-9_\-~./], with
 * no "//" and no "/." (so no dot segments) and no escapes.
 */
function isPlainPath(p: string): boolean {
  if (p.charCodeAt(0) !== 0x2f) return false;
  let prev = 0x2f;
  for (let i = 1; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (prev === 0x2f && (c === 0x2f || c === 0x2e)) return false;
    if (!(
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2f || // /
      c === 0x2e || // .
      c === 0x5f || // _
      c === 0x2d || // -
      c === 0x7e // ~
    ))
      return false;
    prev = c;
  }
  return true;
}

class Pipeline {
  constructor(
    private readonly site: Site,
    private readonly groupKey: string,
    private readonly only: ListenGroup | null,
    private readonly servers: ServerChooser,
  ) {}

  /** The error log for the settings in force (error_log at http/server/location). */
  private log(st: RequestState): Logger {
    return this.site.errorLogs.for(st.conf);
  }

  private group(req: IncomingRequest): ListenGroup | null {
    if (this.only !== null) return this.only;
    const groups = this.site.config.listenGroups;
    const c = req.connection;
    const found =
      c.family === "unix"
        ? findListenGroup(groups, "", null, c.localAddress)
        : findListenGroup(groups, c.localAddress, c.localPort);
    return found ?? groups.find((g) => g.key === this.groupKey) ?? null;
  }

  handle(req: IncomingRequest, res: ResponseWriter): Phase {
    const group = this.group(req);
    if (group === null) {
      res.sendError(500);
      return;
    }
    // RFC 9112 §3.2.2 (and nginx): an absolute-form target's authority wins over Host.
    const abs = req.absoluteAuthority;
    const rawHost = abs !== null ? abs.slice(abs.indexOf("://") + 3) : req.header("host");
    const { host, choice } = this.servers.choose(group, rawHost);
    const st = new RequestState(this.site, group, req, choice.server, host ?? "", host === null);
    st.setCaptures(choice.captures);
    // The state is also the filters' context: no object between them.
    st.res = new SiteResponse(res, st);
    return this.run(st, null, 0);
  }

  /** The first step: the Host check, then the phases from $uri on. */
  private begin(st: RequestState): Phase {
    if (st.badHost) {
      this.log(st).info(
        `client sent invalid host header while reading client request headers, client: ${st.lookup("remote_addr") ?? ""}`,
      );
      this.special(st, 400);
    }
    return this.start(st);
  }

  /**
   * Run `step`; each step may end in an error_page jump or an error answer, which runs
   * as the next step (error_page applies once). Synchronous until a step returns a
   * promise; the access log is arranged once, when the last step is over. A null step
   * is begin() (no closure for the common request).
   */
  private run(st: RequestState, first: (() => Phase) | null, from: number): Phase {
    let step = first;
    let settled = true;
    try {
      for (let i = from; ; i++) {
        if (i === 8) {
          // Cannot happen (error_page applies once); never leave a request unanswered.
          if (!st.res.headersSent) st.res.sendError(500);
          break;
        }
        let next: (() => Phase) | null;
        try {
          const r = step === null ? this.begin(st) : step();
          if (r === undefined) break;
          settled = false;
          return r.then(
            () => {
              this.settle(st);
            },
            // The failure is step i's: handled as if it had been thrown synchronously.
            (err: unknown) =>
              this.run(
                st,
                () => {
                  throw err;
                },
                i,
              ),
          );
        } catch (err) {
          next = this.recover(st, err);
        }
        if (next === null) break;
        step = next;
      }
    } finally {
      if (settled) this.settle(st);
    }
  }

  /** The step that answers an exception from a phase (null: nothing more to send). */
  private recover(st: RequestState, err: unknown): (() => Phase) | null {
    if (err instanceof ErrorPageJump) return () => this.errorPage(st, err.page, err.status);
    if (err instanceof Done) return null;
    return this.failed(st, err);
  }

  /** The request's pipeline is over (its settings final): log it once the response has ended. */
  private settle(st: RequestState): void {
    if (st.conf.access_log.length === 0) return;
    st.res.whenDone(() => {
      this.accessLog(st);
    });
  }

  /** An exception from a phase: the answer to give instead (null: nothing more to send). */
  private failed(st: RequestState, err: unknown): (() => Phase) | null {
    const status = err instanceof HttpError ? err.status : 500;
    if (!(err instanceof HttpError) || status === null || status >= 500) {
      this.log(st).error(
        `${err instanceof Error ? (err.stack ?? err.message) : String(err)} while handling "${st.lookup("request") ?? ""}"`,
      );
    } else
      this.log(st).info(`${err.message} (${status}), client: ${st.lookup("remote_addr") ?? ""}`);
    if (st.res.headersSent || status === null) {
      st.res.abort();
      return null;
    }
    st.res.closeAfter();
    return () => {
      this.special(st, status);
    };
  }

  private accessLog(st: RequestState): void {
    const logs = st.conf.access_log;
    if (logs.length === 0) return;
    try {
      this.site.accessLogs.write(logs, st.lookup);
    } catch (err) {
      this.log(st).error(`access log: ${(err as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- phases

  private start(st: RequestState): Phase {
    const req = st.req;
    if (req.targetForm === "asterisk" || req.targetForm === "authority") this.special(st, 400);
    if (isPlainPath(req.path)) st.uri = req.path;
    else {
      const n = normalizeUri(req.path, { mergeSlashes: st.server.conf.merge_slashes });
      if ("status" in n) {
        this.log(st).info(
          `client sent invalid request (${n.error}), client: ${st.lookup("remote_addr") ?? ""}, request: "${st.lookup("request") ?? ""}"`,
        );
        this.special(st, 400);
      }
      st.uri = n.uri;
    }
    return this.fromServerRewrite(st);
  }

  /** NGX_HTTP_SERVER_REWRITE_PHASE onwards (also the entry of every internal redirect). */
  private fromServerRewrite(st: RequestState): Phase {
    st.location = null;
    st.conf = st.server.conf;
    const r = runScript(st.server.script, st, false);
    this.scriptAnswer(st, r);
    for (;;) {
      const m = matchLocation(st.server.router, st.uri);
      if (m?.redirect === true) {
        const loc = escapeForLocation(st.uri) + "/" + (st.args !== "" ? "?" + st.args : "");
        this.special(st, 301, [["Location", loc]]);
      }
      st.location = m?.location ?? null;
      st.conf = st.location?.conf ?? st.server.conf;
      if (m !== null && m.captures.numbered.length > 0) st.setCaptures(m.captures);
      if (st.location !== null && st.location.conf.internal && !st.internal) this.special(st, 404);
      this.checkBodySize(st);
      if (!this.locationRewrite(st)) break;
      this.countUriChange(st);
    }
    return this.afterRewrite(st);
  }

  /** Run the location's script; true when locations must be searched again. */
  private locationRewrite(st: RequestState): boolean {
    if (st.location === null) return false;
    const before = st.uriChanges;
    const r = runScript(st.location.script, st, true);
    this.scriptAnswer(st, r);
    return r.kind === "last" || (r.kind === "next" && st.uriChanges !== before);
  }

  private countUriChange(st: RequestState): void {
    st.changesLeft--;
    if (st.changesLeft < 0) {
      this.log(st).error(
        `rewrite or internal redirection cycle while processing "${st.uri}", client: ${st.lookup("remote_addr") ?? ""}`,
      );
      st.errorPageUsed = true;
      this.special(st, 500);
    }
  }

  /** nginx checks Content-Length against the location's limit as soon as the location is known. */
  private checkBodySize(st: RequestState): void {
    const max = st.conf.client_max_body_size;
    const cl = st.req.contentLength;
    if (max > 0 && cl !== null && cl > max) {
      this.log(st).error(
        `client intended to send too large body: ${cl} bytes, client: ${st.lookup("remote_addr") ?? ""}`,
      );
      st.res.closeAfter();
      this.special(st, 413);
    }
  }

  private afterRewrite(st: RequestState): Phase {
    const rules = st.conf.access;
    // $remote_addr (realip applied) only when there are rules to match it against.
    if (
      rules.length > 0 &&
      !accessAllowed(rules, st.req.connection, st.lookup("remote_addr") ?? "")
    ) {
      this.log(st).error(
        `access forbidden by rule, client: ${st.lookup("remote_addr") ?? ""}, request: "${st.lookup("request") ?? ""}"`,
      );
      this.special(st, 403);
    }
    if (st.conf.try_files !== null) {
      // tryFiles returns when a file was found; a fallback ends the request (Done).
      const r = this.tryFiles(st);
      if (r !== undefined) return r.then(() => this.content(st));
    }
    return this.content(st);
  }

  private tryFiles(st: RequestState): Phase {
    const tf = st.conf.try_files!;
    for (const t of tf.files) {
      const cand = evaluate(t, st.lookup);
      if (cand === "") continue;
      const dir = cand.endsWith("/");
      const opts = staticOptionsFor(st.conf, st.location, st.lookup, cand, this.site.fileCache);
      if (probeStatic(cand, opts, dir)) {
        st.uri = cand;
        return;
      }
    }
    const fb = tf.fallback;
    if (fb.kind === "code") this.special(st, fb.code);
    let r: Phase;
    if (fb.kind === "named") r = this.named(st, fb.name);
    else {
      const { uri, args } = splitArgs(evaluate(fb.uri, st.lookup), st.args);
      r = this.internalRedirect(st, uri, args);
    }
    if (r !== undefined)
      return r.then(() => {
        throw Done.it;
      });
    throw Done.it;
  }

  private internalRedirect(st: RequestState, uri: string, args: string): Phase {
    this.countUriChange(st);
    st.uri = uri;
    st.args = args;
    st.internal = true;
    st.uriChanged = true;
    return this.fromServerRewrite(st);
  }

  /** Jump to `@name` (try_files, error_page): its rewrite phase, then on. */
  private named(st: RequestState, name: string): Phase {
    const loc: Location | null = findNamedLocation(st.server.router, name);
    if (loc === null) {
      this.log(st).error(
        `could not find named location "${name}", client: ${st.lookup("remote_addr") ?? ""}`,
      );
      return this.special(st, 500);
    }
    this.countUriChange(st);
    st.internal = true;
    st.location = loc;
    st.conf = loc.conf;
    if (this.locationRewrite(st)) {
      this.countUriChange(st);
      // A rewrite in a named location searches the normal locations again.
      for (;;) {
        const m = matchLocation(st.server.router, st.uri);
        st.location = m?.location ?? null;
        st.conf = st.location?.conf ?? st.server.conf;
        if (m !== null && m.captures.numbered.length > 0) st.setCaptures(m.captures);
        if (!this.locationRewrite(st)) break;
        this.countUriChange(st);
      }
    }
    return this.afterRewrite(st);
  }

  // ---------------------------------------------------------------- content

  private view(st: RequestState): IncomingRequest {
    return requestView(
      st.req,
      st.method !== st.req.method ? st.method : null,
      st.conf.client_max_body_size,
    );
  }

  private content(st: RequestState): Phase {
    const conf = st.conf;
    if (conf.proxy_pass !== null) return this.proxy(st, st.lookup);
    const name = conf.app_pass;
    if (name !== null) {
      const h = this.site.apps(name);
      if (h === null) {
        this.log(st).error(`no app "${name}" is running for app_pass`);
        return this.special(st, 502);
      }
      return h(this.view(st), st.res);
    }
    return this.serveFiles(st);
  }

  private async proxy(st: RequestState, lookup: VariableLookup): Promise<void> {
    const h = this.site.proxy.handler(st.conf, st.location);
    const loc = st.location;
    const out = await h.handle(this.view(st), st.res, {
      vars: (n) => lookup(n) ?? null,
      uri: st.uri,
      args: st.args,
      locationPrefix: loc !== null && loc.regex === null && loc.modifier !== "@" ? loc.name : null,
      uriChanged: st.uriChanged,
      clientAddress: lookup("remote_addr") ?? "",
    });
    st.upstream = out.upstream;
    if (out.status === 499) st.finalStatus = 499; // nginx's "client closed request"
    if (out.handled && out.status === 101) st.res.finish(); // the tunnel has closed
    if (!out.handled) this.special(st, out.status);
  }

  private serveFiles(st: RequestState): Phase {
    const opts = staticOptionsFor(st.conf, st.location, st.lookup, st.uri, this.site.fileCache);
    // The static handler applies expires itself while it writes (it knows the mtime).
    st.res.expiresHere = false;
    let p: StaticOutcome | Promise<StaticOutcome>;
    try {
      p = serveStaticNow(this.view(st), st.res, st.uri, opts, this.log(st), st.args);
    } catch (err) {
      st.res.expiresHere = true;
      throw err;
    }
    if (!(p instanceof Promise)) {
      st.res.expiresHere = true;
      return this.staticOutcome(st, p);
    }
    return p.then(
      (out) => {
        st.res.expiresHere = true;
        return this.staticOutcome(st, out);
      },
      (err: unknown) => {
        st.res.expiresHere = true;
        throw err;
      },
    );
  }

  private staticOutcome(st: RequestState, out: StaticOutcome): Phase {
    switch (out.kind) {
      case "sent":
        return;
      case "status":
        this.special(st, out.status, out.headers);
        return;
      case "redirect":
        this.special(st, out.status, [["Location", out.location]]);
        return;
      case "internal":
        return this.internalRedirect(st, out.uri, st.args);
    }
  }

  // ---------------------------------------------------------------- answers

  /** A script that answered (return / redirect) ends the request here. */
  private scriptAnswer(st: RequestState, r: ScriptResult): void {
    if (r.kind === "redirect") this.special(st, r.code, [["Location", r.location]]);
    if (r.kind !== "return") return;
    const { code, text } = r;
    if (code === 444) {
      // nginx's "close the connection without a response".
      st.finalStatus = 444;
      st.res.abort();
      throw Done.it;
    }
    if (REDIRECT_CODES.has(code) && text !== null) this.special(st, code, [["Location", text]]);
    if (code >= 400 && text === null) this.special(st, code);
    // ngx_http_send_response: the text as the body, typed with default_type.
    const body = Buffer.from(text ?? "", "utf8");
    const headers: HeaderList = [];
    if (text !== null) headers.push(["Content-Type", contentType(st)]);
    if (code !== 204 && code !== 304) headers.push(["Content-Length", String(body.length)]);
    st.res.writeHead(code, headers);
    st.res.end(body.length > 0 ? body : undefined);
    throw Done.it;
  }

  /**
   * Answer `status` the way nginx's special response handler does: through the
   * location's error_page (once per request), else the built-in page. Never returns.
   */
  private special(st: RequestState, status: number, headers: HeaderList = []): never {
    if (st.res.headersSent) {
      st.res.abort();
      throw Done.it;
    }
    if (!st.errorPageUsed) {
      const ep = st.conf.error_page.find((e) => e.codes.includes(status));
      if (ep !== undefined) throw new ErrorPageJump(ep, status);
    }
    st.res.sendError(status, headers);
    throw Done.it;
  }

  /** error_page: internal redirect to a URI or named location, or a redirect to a URL. */
  private errorPage(st: RequestState, ep: ErrorPage, status: number): Phase {
    st.errorPageUsed = true;
    const target = evaluate(ep.uri, st.lookup);
    const over = ep.response === null ? status : ep.response === "upstream" ? null : ep.response;
    if (target.startsWith("@")) {
      st.statusOverride = over;
      return this.named(st, target);
    }
    if (target.startsWith("/")) {
      st.statusOverride = over;
      if (st.method !== "HEAD") st.method = "GET";
      const { uri, args } = splitArgs(target, "");
      return this.internalRedirect(st, uri, args);
    }
    const code = over !== null && REDIRECT_CODES.has(over) ? over : 302;
    st.res.sendError(code, [["Location", target]]);
  }
}

/** Thrown by special() when an error_page applies; caught where it can be run. */
class ErrorPageJump extends Error {
  constructor(
    readonly page: ErrorPage,
    readonly status: number,
  ) {
    super(`error_page for ${status}`);
  }
}

function contentType(st: RequestState): string {
  const t = st.conf.default_type;
  return st.conf.charset !== null && st.conf.charset !== "off"
    ? `${t}; charset=${st.conf.charset}`
    : t;
}

/** A decoded URI made safe for a Location header (spaces, controls, "%" and non-ASCII escaped). */
function escapeForLocation(uri: string): string {
  return encodeURI(uri);
}
