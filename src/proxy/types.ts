/**
 * Plain option objects for the reverse proxy. The nginx config model (src/config/nginx)
 * builds these from `upstream`, `proxy_*` and `set_real_ip_from` directives; the proxy
 * itself never reads config syntax. Durations are milliseconds.
 */

/** Looks a variable up by name without the `$` (e.g. "http_upgrade", "remote_addr"). */
export type VarGetter = (name: string) => string | null;

/** A compiled value with variables (nginx "complex value"), evaluated per request. */
export type Template = (vars: VarGetter) => string;

/** One `server ADDR [weight= max_fails= fail_timeout= backup down max_conns=]` line. */
export interface UpstreamServerSpec {
  /** "host:port", "[v6]:port", "host" (port 80) or "unix:/path". */
  readonly address: string;
  /** nginx default 1. */
  readonly weight: number;
  /** nginx default 1; 0 disables failure accounting. */
  readonly maxFails: number;
  /** nginx default 10 s. */
  readonly failTimeout: number;
  readonly backup: boolean;
  readonly down: boolean;
  /** 0 = unlimited (nginx default). */
  readonly maxConns: number;
}

export type BalanceSpec =
  | "round_robin"
  | "least_conn"
  | "ip_hash"
  | "random"
  | { readonly hash: Template; readonly consistent: boolean };

export interface UpstreamSpec {
  readonly name: string;
  readonly servers: readonly UpstreamServerSpec[];
  readonly balance: BalanceSpec;
  /** `keepalive N`: idle connections kept per server; null = no keep-alive (nginx default). */
  readonly keepalive: number | null;
  /** `keepalive_timeout` (nginx default 60 s). */
  readonly keepaliveTimeout: number;
  /** `keepalive_requests` (nginx default 1000). */
  readonly keepaliveRequests: number;
}

/** `proxy_next_upstream` flags (nginx default: error timeout). */
export interface NextUpstreamSpec {
  /** Connection error, or the upstream closed before a complete response header. */
  readonly error: boolean;
  readonly timeout: boolean;
  /** The upstream sent an unparsable or empty response. */
  readonly invalidHeader: boolean;
  /** http_500, http_502, http_503, http_504, http_403, http_404, http_429. */
  readonly statuses: ReadonlySet<number>;
  /** Allow retrying POST, LOCK, PATCH after the request was sent. */
  readonly nonIdempotent: boolean;
}

/** One `proxy_redirect` rule. */
export type RedirectRule =
  | { readonly kind: "prefix"; readonly pattern: Template; readonly replacement: Template }
  | { readonly kind: "regex"; readonly pattern: RegExp; readonly replacement: RegexReplacement };

/** Replacement for a regex rule: gets the match (for `$1`.. and named captures) and the vars. */
export type RegexReplacement = (match: RegExpExecArray, vars: VarGetter) => string;

/**
 * `proxy_redirect`: "default" (the built-in rule derived from proxy_pass and the
 * location), "off", or a list in which the token "default" may appear once.
 */
export type RedirectSpec = "off" | ReadonlyArray<RedirectRule | "default">;

export interface ProxyOptions {
  /** `proxy_pass` argument as written (e.g. "http://app", "http://unix:/s.sock:/x/"), or a template. */
  readonly pass: string | Template;
  /**
   * Final `proxy_set_header` list after inheritance (the config applies nginx's rule
   * that a level defining any replaces the inherited set). nginx's built-in defaults
   * (Host $proxy_host, Connection close) are added here for names not listed.
   */
  readonly setHeaders: ReadonlyArray<readonly [name: string, value: Template]>;
  /** `proxy_hide_header` names (added to nginx's default hidden set). */
  readonly hideHeaders: readonly string[];
  /** `proxy_pass_header` names (removed from the hidden set). */
  readonly passHeaders: readonly string[];
  readonly redirect: RedirectSpec;
  readonly httpVersion: "1.0" | "1.1";
  readonly buffering: boolean;
  readonly requestBuffering: boolean;
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly sendTimeout: number;
  /** null = `proxy_next_upstream off`. */
  readonly nextUpstream: NextUpstreamSpec | null;
  /** 0 = unlimited (nginx default). */
  readonly nextUpstreamTries: number;
  /** 0 = unlimited (nginx default). */
  readonly nextUpstreamTimeout: number;
  /**
   * `proxy_intercept_errors on`: given a status >= 300, say whether the location has an
   * `error_page` for it; if so the upstream reply is dropped and the status returned.
   */
  readonly interceptErrors: ((status: number) => boolean) | null;
  /** `proxy_pass_request_headers` (default true). */
  readonly passRequestHeaders: boolean;
  /** `proxy_pass_request_body` (default true). */
  readonly passRequestBody: boolean;
  /** In-memory part of a buffered response before it spills to a temp file (proxy_buffers). */
  readonly bufferMemory: number;
  /** `proxy_max_temp_file_size`: 0 = never spill (reading pauses at bufferMemory instead). */
  readonly maxTempFileSize: number;
  /** `proxy_temp_path`; null = os.tmpdir(). */
  readonly tempPath: string | null;
}

/** What the request pipeline knows about the request that the proxy needs. */
export interface ProxyRequestContext {
  /** Variables of the request ($host, $remote_addr, $http_*, $scheme, ...). */
  readonly vars: VarGetter;
  /** Normalised, percent-decoded URI ($uri, as src/router normalizeUri gives it) after any rewrite. */
  readonly uri: string;
  /** $args (raw query, no "?"). */
  readonly args: string;
  /** The matched prefix location's name (e.g. "/static/"); null for regex/named locations. */
  readonly locationPrefix: string | null;
  /** True when a rewrite changed the URI (then the original $request_uri is not passed). */
  readonly uriChanged: boolean;
  /** The client address after real_ip ($remote_addr). */
  readonly clientAddress: string;
}

/** Per-request upstream log variables, in nginx's format ("a, b" per try). */
export interface UpstreamLogVars {
  /** $upstream_addr */
  addr: string;
  /** $upstream_status */
  status: string;
  /** $upstream_response_time (seconds, ms precision) */
  responseTime: string;
  /** $upstream_connect_time */
  connectTime: string;
  /** $upstream_header_time */
  headerTime: string;
}

export type ProxyOutcome =
  /** The response (or an abort) went to the client. */
  | { readonly handled: true; readonly status: number; readonly upstream: UpstreamLogVars }
  /**
   * Nothing was written: the pipeline answers `status` (502/504 when the upstreams
   * failed, or an intercepted upstream error) via error_page or res.sendError().
   */
  | { readonly handled: false; readonly status: number; readonly upstream: UpstreamLogVars };

/** nginx's defaults for everything but `pass`. */
export const PROXY_DEFAULTS: Omit<ProxyOptions, "pass"> = {
  setHeaders: [],
  hideHeaders: [],
  passHeaders: [],
  redirect: ["default"],
  httpVersion: "1.0",
  buffering: true,
  requestBuffering: true,
  connectTimeout: 60_000,
  readTimeout: 60_000,
  sendTimeout: 60_000,
  nextUpstream: {
    error: true,
    timeout: true,
    invalidHeader: false,
    statuses: new Set<number>(),
    nonIdempotent: false,
  },
  nextUpstreamTries: 0,
  nextUpstreamTimeout: 0,
  interceptErrors: null,
  passRequestHeaders: true,
  passRequestBody: true,
  bufferMemory: 64 * 1024,
  maxTempFileSize: 1024 * 1024 * 1024,
  tempPath: null,
};

export const SERVER_DEFAULTS: Omit<UpstreamServerSpec, "address"> = {
  weight: 1,
  maxFails: 1,
  failTimeout: 10_000,
  backup: false,
  down: false,
  maxConns: 0,
};
