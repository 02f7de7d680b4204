/**
 * Everything the HTTP/1.1 codec and the connection state machine are configured with, as
 * one plain object. `limitsFromSettings` builds it from the Gunicorn-style settings; nginx
 * `server`/`listen` blocks can build their own (see docs/http.md).
 */
import type { Settings } from "../config/resolved.js";
import { ipMatcher, type IpMatcher } from "./ip-allow.js";

export type HeaderMapPolicy = "drop" | "refuse" | "dangerous";

export interface HttpLimits {
  /** limit_request_line: longest request line in octets, CRLF excluded; longer → 414. */
  readonly maxRequestLine: number;
  /** limit_request_fields: most field lines in a header (or trailer) section; more → 431. */
  readonly maxHeaderFields: number;
  /** limit_request_field_size: longest field line in octets including CRLF (obs-fold: the sum); → 431. */
  readonly maxFieldSize: number;
  /** limit_request_headers_total: request line + header section in octets; → 431. */
  readonly maxHeaderBytes: number;
  /** client_max_body_size in octets, 0 = unlimited; larger → 413. */
  readonly maxBodySize: number;
  /** header_map: what to do with field names containing "_". */
  readonly headerMap: HeaderMapPolicy;
  readonly permitObsoleteFolding: boolean;
  readonly stripHeaderSpaces: boolean;
  readonly permitUnconventionalMethod: boolean;
  readonly casefoldMethod: boolean;
  /** RFC 9112 §3.2: answer 400 to an HTTP/1.1 request without Host (nginx's policy). */
  readonly requireHost: boolean;
  /** Detect a PROXY protocol v1/v2 preamble at the start of each connection. */
  readonly proxyProtocol: boolean;
  /** Peers allowed to send a PROXY preamble (others get 403). */
  readonly proxyAllow: IpMatcher;
  /** Peers trusted for X-Forwarded-Proto / -Protocol / -Ssl. */
  readonly forwardedAllow: IpMatcher;
  /** Milliseconds. Complete request head (from its first byte; for a fresh connection from accept). */
  readonly headerTimeoutMs: number;
  /** Between two reads of the request body. */
  readonly bodyTimeoutMs: number;
  /** Between two successful writes while the client does not accept data. */
  readonly sendTimeoutMs: number;
  /** Idle time between keep-alive requests; 0 disables keep-alive. */
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  /** How long a closing connection keeps reading (and discarding) so the response is not lost to a RST. */
  readonly lingeringTimeMs: number;
  /** `Server` header value; "" omits the header. */
  readonly serverHeader: string;
  /**
   * Gunicorn's forwarder_headers: upper-case field names with "_" that a peer in
   * forwardedAllow may send whatever header_map says (default SCRIPT_NAME, PATH_INFO).
   */
  readonly forwarderHeaders?: readonly string[];
}

/** Gunicorn's caps (gunicorn/http/message.py): 0 or more than these means the cap. */
export const MAX_REQUEST_LINE = 8190;
export const MAX_HEADERS = 32768;
export const DEFAULT_FIELD_SIZE = 8190;

const LOOPBACK = ipMatcher("127.0.0.1,::1");

export const DEFAULT_LIMITS: HttpLimits = Object.freeze({
  maxRequestLine: 4094,
  maxHeaderFields: 100,
  maxFieldSize: 8190,
  maxHeaderBytes: 65536,
  maxBodySize: 1048576,
  headerMap: "drop",
  permitObsoleteFolding: false,
  stripHeaderSpaces: false,
  permitUnconventionalMethod: false,
  casefoldMethod: false,
  requireHost: true,
  proxyProtocol: false,
  proxyAllow: LOOPBACK,
  forwardedAllow: LOOPBACK,
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 60_000,
  sendTimeoutMs: 60_000,
  keepaliveTimeoutMs: 5_000,
  keepaliveRequests: 1000,
  lingeringTimeMs: 5_000,
  serverHeader: "narwhal",
});

/**
 * Apply Gunicorn's meaning of 0 and its caps to the three request limits: a request line
 * of at most 8190 octets, 0 meaning unlimited (here: bounded by the whole-head limit);
 * fields 0 or over 32768 → 32768; field size 0 → 8190.
 */
export function normalizeRequestLimits(
  line: number,
  fields: number,
  fieldSize: number,
  headerBytes: number = DEFAULT_LIMITS.maxHeaderBytes,
): [number, number, number] {
  return [
    line <= 0 ? headerBytes : line > MAX_REQUEST_LINE ? MAX_REQUEST_LINE : line,
    fields <= 0 || fields > MAX_HEADERS ? MAX_HEADERS : fields,
    fieldSize <= 0 ? DEFAULT_FIELD_SIZE : fieldSize,
  ];
}

/** Build the limits of the default listener from the resolved settings. */
export function limitsFromSettings(s: Settings): HttpLimits {
  const [maxRequestLine, maxHeaderFields, maxFieldSize] = normalizeRequestLimits(
    s.num("limit_request_line"),
    s.num("limit_request_fields"),
    s.num("limit_request_field_size"),
    s.num("limit_request_headers_total"),
  );
  const sec = (name: string): number => Math.round(s.num(name) * 1000);
  return Object.freeze({
    maxRequestLine,
    maxHeaderFields,
    maxFieldSize,
    maxHeaderBytes: s.num("limit_request_headers_total"),
    maxBodySize: s.num("client_max_body_size"),
    headerMap: s.str("header_map") as HeaderMapPolicy,
    permitObsoleteFolding: s.bool("permit_obsolete_folding"),
    stripHeaderSpaces: s.bool("strip_header_spaces"),
    permitUnconventionalMethod: s.bool("permit_unconventional_http_method"),
    casefoldMethod: s.bool("casefold_http_method"),
    requireHost: DEFAULT_LIMITS.requireHost,
    proxyProtocol: s.bool("proxy_protocol"),
    proxyAllow: ipMatcher(s.str("proxy_allow_ips")),
    forwardedAllow: ipMatcher(s.str("forwarded_allow_ips")),
    headerTimeoutMs: sec("header_timeout"),
    bodyTimeoutMs: sec("body_timeout"),
    sendTimeoutMs: sec("send_timeout"),
    keepaliveTimeoutMs: sec("keepalive"),
    keepaliveRequests: s.num("keepalive_requests"),
    lingeringTimeMs: DEFAULT_LIMITS.lingeringTimeMs,
    serverHeader: s.str("server_header"),
  });
}
