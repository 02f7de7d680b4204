/**
 * The pipeline's ResponseWriter: wraps the connection's writer and applies, as each
 * response head goes out, what nginx's header filters do:
 *
 * - the status imposed by `error_page ... =CODE` (or the original error) on the page it
 *   redirected to (ngx_http_internal_redirect keeps r->err_status);
 * - `add_header` (only for 200, 201, 204, 206, 301, 302, 303, 304, 307, 308 unless
 *   `always`) and `expires` (ngx_http_headers_filter_module) from the settings in force
 *   when the head is written;
 * - a relative `Location` made absolute as scheme://host:port + value when
 *   `absolute_redirect` is on (ngx_http_header_filter_module), for every response,
 *   proxied ones included.
 *
 * It remembers the headers sent for `$sent_http_NAME`.
 */
import { expiresHeaders, type ExpiresPolicy } from "../static/index.js";
import {
  evaluate,
  type Expires,
  type HttpConf,
  type VariableLookup,
} from "../config/nginx/index.js";
import type { HeaderList, ResponseWriter, UpgradedConnection } from "../http/types.js";

/** nginx's headers filter applies add_header (without `always`) and expires only to these. */
export const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 204, 206, 301, 302, 303, 304, 307, 308,
]);

export function expiresPolicy(e: Expires): ExpiresPolicy {
  return e.kind === "daily" ? { kind: "daily", secondOfDay: e.seconds } : e;
}

export interface FilterContext {
  /** The settings in force now (the final location's after internal redirects). */
  readonly conf: HttpConf;
  readonly lookup: VariableLookup;
  /** scheme://host[:port] for absolute redirects. */
  origin(): string;
  /** The status error_page imposes on the page it redirected to; null: the page's own. */
  readonly statusOverride: number | null;
}

const NO_HEADERS = Object.freeze([]) as unknown as HeaderList;

export class SiteResponse implements ResponseWriter {
  /** Off while the static handler writes: it applies expires itself (it knows the mtime). */
  expiresHere = true;
  private done = false;
  private doneCallbacks: (() => void)[] | null = null;
  /** Replaced, never changed in place: the shared empty list until a head goes out. */
  private sent: HeaderList = NO_HEADERS;
  upgrade?: (headers: HeaderList) => UpgradedConnection;

  constructor(
    readonly inner: ResponseWriter,
    private readonly ctx: FilterContext,
  ) {
    // Present only when the inner writer can upgrade; one shared function, no closure.
    if (inner.upgrade !== undefined) this.upgrade = upgradeInner;
  }

  get headersSent(): boolean {
    return this.inner.headersSent;
  }
  get status(): number {
    return this.inner.status;
  }
  get bodyBytesSent(): number {
    return this.inner.bodyBytesSent;
  }
  get bytesSent(): number {
    return this.inner.bytesSent;
  }
  get clientGone(): boolean {
    return this.inner.clientGone;
  }

  /** A header of the response head as sent ($sent_http_NAME), by lower-case name. */
  sentHeader(lower: string): string | null {
    for (const [n, v] of this.sent) if (n.toLowerCase() === lower) return v;
    return null;
  }

  /** The headers the filters add for `status` (add_header, expires, absolute Location). */
  filter(status: number, headers: HeaderList): HeaderList {
    const conf = this.ctx.conf;
    if (
      conf.add_header.length === 0 &&
      (!this.expiresHere || conf.expires.kind === "off") &&
      !hasRelativeLocation(headers)
    ) {
      return headers;
    }
    const out: HeaderList = [];
    for (const [n, v] of headers) {
      if (v.startsWith("/") && n.toLowerCase() === "location" && conf.absolute_redirect)
        out.push([n, this.ctx.origin() + v]);
      else out.push([n, v]);
    }
    if (this.expiresHere && conf.expires.kind !== "off") {
      for (const h of expiresHeaders(
        expiresPolicy(conf.expires),
        status,
        Math.floor(Date.now() / 1000),
        null,
      )) {
        const lower = h[0].toLowerCase();
        const i = out.findIndex(([n]) => n.toLowerCase() === lower);
        if (i >= 0) out.splice(i, 1);
        out.push(h);
      }
    }
    const listed = ADD_HEADER_STATUSES.has(status);
    for (const a of conf.add_header) {
      if (!a.always && !listed) continue;
      const v = evaluate(a.value, this.ctx.lookup);
      if (v !== "") out.push([a.name, v]);
    }
    return out;
  }

  writeHead(status: number, headers: HeaderList, reason?: string): void {
    const over = this.ctx.statusOverride;
    const st = over !== null && status === 200 ? over : status;
    const h = this.filter(st, headers);
    this.sent = h;
    if (st !== status) this.inner.writeHead(st, h);
    else this.inner.writeHead(st, h, reason);
  }

  /** The default error page for `status`, through the filters. */
  sendError(status: number, extraHeaders: HeaderList = []): void {
    const h = this.filter(status, extraHeaders);
    this.sent = h;
    this.inner.sendError(status, h);
    this.finish();
  }

  /**
   * Run `cb` once the response has ended (or was aborted, or the client left): the
   * access log waits for it, since a content handler (the WSGI gateway) may still be
   * streaming when its promise resolves.
   */
  whenDone(cb: () => void): void {
    if (this.done) {
      cb();
      return;
    }
    if (this.doneCallbacks === null) {
      this.doneCallbacks = [];
      this.inner.onClientGone(() => {
        this.finish();
      });
    }
    this.doneCallbacks.push(cb);
  }

  /** The exchange is over without end() (a 101 tunnel closed). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    const cbs = this.doneCallbacks;
    this.doneCallbacks = null;
    if (cbs !== null) for (const cb of cbs) cb();
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.inner.writeInformational(status, headers);
  }
  write(chunk: Buffer | string): boolean {
    return this.inner.write(chunk);
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
  end(chunk?: Buffer | string): void {
    this.inner.end(chunk);
    this.finish();
  }
  sendFile(fd: number, start: number, end: number): Promise<void> {
    return this.inner.sendFile(fd, start, end);
  }
  closeAfter(): void {
    this.inner.closeAfter();
  }
  abort(): void {
    this.inner.abort();
    this.finish();
  }
  onClientGone(cb: () => void): void {
    this.inner.onClientGone(cb);
  }
}

function upgradeInner(this: SiteResponse, headers: HeaderList): UpgradedConnection {
  return this.inner.upgrade!(headers);
}

function hasRelativeLocation(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    // Cheapest tests first: most heads have no 8-letter field starting with "/".
    if (h[0].length === 8 && h[1].charCodeAt(0) === 0x2f && h[0].toLowerCase() === "location")
      return true;
  }
  return false;
}
