/**
 * From listen groups to sockets. One listener per group, except that a wildcard
 * address (0.0.0.0:P, [::]:P) already receives the connections for specific addresses
 * on its port: as nginx without `bind`, those groups are served by the wildcard socket
 * and found by the connection's local address (findListenGroup).
 *
 * The limits of a socket come from its default server, as nginx reads the request head
 * before it knows the virtual server: client_header_timeout, client_body_timeout,
 * send_timeout, keepalive_timeout, keepalive_requests, large_client_header_buffers,
 * server_tokens. client_max_body_size is per location (the pipeline enforces it).
 */
import { isIP } from "node:net";
import type { HttpConf, ListenGroup, NginxConfig } from "../config/nginx/index.js";
import { DEFAULT_LIMITS, type HttpLimits } from "../http/limits.js";
import { ipMatcher } from "../http/ip-allow.js";
import { VERSION } from "../version.js";

export interface ListenPlan {
  /** The group key, which is also the `--bind` spelling HttpServer takes. */
  readonly key: string;
  readonly bind: string;
  readonly group: ListenGroup;
  readonly limits: HttpLimits;
  readonly backlog: number | null;
}

function isWildcard(host: string | null): boolean {
  return host === "0.0.0.0" || host === "::";
}

/** The `Server` header and error page signature for server_tokens. */
export function serverTokens(conf: HttpConf): string {
  return conf.server_tokens === "off" ? "narwhal" : `narwhal/${VERSION}`;
}

const NOBODY = ipMatcher("");

export function limitsFor(conf: HttpConf): HttpLimits {
  const ms = (s: number): number => Math.round(s * 1000);
  const buf = conf.large_client_header_buffers;
  return Object.freeze({
    ...DEFAULT_LIMITS,
    // nginx: the request line and each header line must fit one large buffer.
    maxRequestLine: Math.max(16, buf.size - 2),
    maxFieldSize: buf.size,
    maxHeaderFields: 32768,
    maxHeaderBytes: buf.number * buf.size,
    maxBodySize: 0,
    // nginx ignores header names with "_" (underscores_in_headers off).
    headerMap: "drop" as const,
    requireHost: true,
    proxyProtocol: false,
    // $scheme is the listener's: nginx does not read X-Forwarded-Proto.
    forwardedAllow: NOBODY,
    headerTimeoutMs: ms(conf.client_header_timeout),
    bodyTimeoutMs: ms(conf.client_body_timeout),
    sendTimeoutMs: ms(conf.send_timeout),
    keepaliveTimeoutMs: ms(conf.keepalive_timeout.timeout),
    keepaliveRequests: conf.keepalive_requests,
    serverHeader: serverTokens(conf),
  });
}

/** @example listenPlan(cfg).map((p) => p.bind) // ["0.0.0.0:8080", "unix:/run/site.sock"] */
export function listenPlan(config: NginxConfig): ListenPlan[] {
  const wildPorts = new Map<string, boolean>();
  for (const g of config.listenGroups) {
    const l = g.listen;
    if (l.unix === null && isWildcard(l.host))
      wildPorts.set(`${isIP(l.host ?? "") === 6 ? 6 : 4}:${l.port ?? 0}`, true);
  }
  const out: ListenPlan[] = [];
  for (const g of config.listenGroups) {
    const l = g.listen;
    if (l.unix === null && !isWildcard(l.host)) {
      const fam = isIP(l.host ?? "") === 6 ? 6 : 4;
      if (wildPorts.has(`${fam}:${l.port ?? 0}`)) continue;
    }
    out.push({
      key: g.key,
      bind: g.key,
      group: g,
      limits: limitsFor(g.defaultServer.conf),
      backlog: l.backlog,
    });
  }
  return out;
}
