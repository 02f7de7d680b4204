/**
 * The frozen model a loaded nginx-syntax config becomes. Setting names are nginx's
 * directive names, so `loc.conf.client_max_body_size` reads like the config that set it.
 * Every object here is deeply frozen before the first request.
 */
import type { LocationTree } from "../../router/tree.js";
import type { Settings } from "../resolved.js";
import type { EventLoopSched } from "../setting-types.js";
import type { CompiledRegex } from "./regex.js";
import type { Template } from "./variables.js";

/** `root` and `alias` share one setting, as in nginx (a location has one or the other). */
export interface RootConf {
  /** Path with variables; relative paths were made absolute against the prefix. */
  readonly path: Template;
  readonly alias: boolean;
}

export interface TryFiles {
  /** Candidates before the last argument (`$uri`, `$uri/`, `/index.html`). */
  readonly files: readonly Template[];
  /** The last argument: an internal redirect URI, a named location or `=CODE`. */
  readonly fallback:
    | { readonly kind: "uri"; readonly uri: Template }
    | { readonly kind: "named"; readonly name: string }
    | { readonly kind: "code"; readonly code: number };
}

export interface ErrorPage {
  readonly codes: readonly number[];
  /** `=` → "upstream" (the status of the redirect target), `=CODE` → CODE, none → null. */
  readonly response: number | "upstream" | null;
  /** A URI, a named location (`@x`) or an absolute URL (→ redirect). */
  readonly uri: Template;
}

export interface AddHeader {
  readonly name: string;
  readonly value: Template;
  /** Also on error statuses (nginx adds only to 200, 201, 204, 206, 301, 302, 303, 304, 307, 308). */
  readonly always: boolean;
}

export type Expires =
  | { readonly kind: "off" }
  | { readonly kind: "epoch" }
  | { readonly kind: "max" }
  /** seconds (may be negative) from the access time or, with `modified`, the file mtime. */
  | { readonly kind: "after"; readonly seconds: number; readonly modified: boolean }
  /** `@15h30m`: the next time of day, in seconds after midnight. */
  | { readonly kind: "daily"; readonly seconds: number };

export interface AccessLog {
  readonly path: Template;
  readonly format: string;
  /** `if=` condition: log only when it evaluates to something other than "" or "0". */
  readonly condition: Template | null;
}

export interface ErrorLog {
  /** A path (absolute) or "stderr". */
  readonly path: string;
  readonly level: "debug" | "info" | "notice" | "warn" | "error" | "crit" | "alert" | "emerg";
}

export interface AccessRule {
  readonly action: "allow" | "deny";
  /** "all", "unix:", or a network: address with prefix length. */
  readonly address: string;
  readonly prefix: number;
  readonly family: "all" | "unix" | "IPv4" | "IPv6";
}

export interface DisableSymlinks {
  readonly mode: "off" | "on" | "if_not_owner";
  readonly from: Template | null;
}

export interface ProxyPass {
  readonly url: Template;
  /** Set when the URL is constant and names an `upstream` block. */
  readonly upstream: string | null;
  readonly scheme: "http" | "https";
  /** The URI part of a constant URL (`http://b/x/` → "/x/"), null when absent. */
  readonly uri: string | null;
}

export type ProxyRedirect =
  | { readonly kind: "default" }
  | { readonly kind: "off" }
  | {
      readonly kind: "rules";
      readonly rules: readonly { readonly from: Template | CompiledRegex; readonly to: Template }[];
    };

/** Every setting a location can hold after merging http → server → location. */
export interface HttpConf {
  readonly root: RootConf;
  readonly index: readonly Template[];
  readonly try_files: TryFiles | null;
  readonly error_page: readonly ErrorPage[];
  readonly internal: boolean;
  readonly add_header: readonly AddHeader[];
  readonly expires: Expires;
  readonly etag: boolean;
  readonly if_modified_since: "off" | "exact" | "before";
  readonly max_ranges: number | null;
  /** Lower-case extension → MIME type. */
  readonly types: Readonly<Record<string, string>>;
  readonly default_type: string;
  readonly charset: string | null;
  /** MIME types `charset` applies to (text/html always). */
  readonly charset_types: readonly string[];
  readonly log_not_found: boolean;
  readonly gzip_http_version: "1.0" | "1.1";
  readonly gzip: boolean;
  readonly gzip_types: readonly string[];
  readonly gzip_min_length: number;
  readonly gzip_comp_level: number;
  readonly gzip_vary: boolean;
  readonly gzip_static: "off" | "on" | "always";
  readonly client_max_body_size: number;
  readonly client_body_buffer_size: number;
  readonly client_header_timeout: number;
  readonly client_body_timeout: number;
  readonly send_timeout: number;
  readonly keepalive_timeout: { readonly timeout: number; readonly header: number | null };
  readonly keepalive_requests: number;
  readonly large_client_header_buffers: { readonly number: number; readonly size: number };
  /** Empty when `access_log off`. */
  readonly access_log: readonly AccessLog[];
  readonly error_log: readonly ErrorLog[];
  readonly server_tokens: "on" | "off" | "build";
  readonly access: readonly AccessRule[];
  readonly autoindex: boolean;
  readonly absolute_redirect: boolean;
  readonly server_name_in_redirect: boolean;
  readonly merge_slashes: boolean;
  readonly disable_symlinks: DisableSymlinks;
  /** narwhal: serve files and directories whose name starts with ".". */
  readonly dotfiles: boolean;
  readonly sendfile: boolean;
  readonly tcp_nopush: boolean;
  readonly tcp_nodelay: boolean;
  readonly proxy_pass: ProxyPass | null;
  /** null: nginx's defaults (`Host $proxy_host`, `Connection close`). */
  readonly proxy_set_header: readonly (readonly [name: string, value: Template])[] | null;
  readonly proxy_redirect: ProxyRedirect;
  readonly proxy_http_version: "1.0" | "1.1";
  readonly proxy_hide_header: readonly string[];
  readonly proxy_pass_header: readonly string[];
  readonly proxy_buffering: boolean;
  readonly proxy_request_buffering: boolean;
  /** Seconds. */
  readonly proxy_connect_timeout: number;
  readonly proxy_read_timeout: number;
  readonly proxy_send_timeout: number;
  /** null for `proxy_next_upstream off`. */
  readonly proxy_next_upstream: NextUpstream | null;
  /** 0 = unlimited. */
  readonly proxy_next_upstream_tries: number;
  /** Seconds; 0 = unlimited. */
  readonly proxy_next_upstream_timeout: number;
  readonly proxy_intercept_errors: boolean;
  /** Trusted proxies (addresses, CIDRs or "unix:") as written; see src/proxy/real-ip.ts. */
  readonly set_real_ip_from: readonly string[];
  readonly real_ip_header: string;
  readonly real_ip_recursive: boolean;
  /** `app_pass NAME`: the `app` block whose worker pool serves the location; null when none. */
  readonly app_pass: string | null;
}

/** `proxy_next_upstream error timeout http_502 ... non_idempotent`. */
export interface NextUpstream {
  readonly error: boolean;
  readonly timeout: boolean;
  readonly invalidHeader: boolean;
  readonly statuses: readonly number[];
  readonly nonIdempotent: boolean;
}

export interface MainConf {
  readonly worker_processes: number | "auto";
  readonly event_loop_sched: EventLoopSched;
  /** Absolute path of the pid file, or null when none is configured. */
  readonly pid: string | null;
  readonly user: string | null;
  readonly worker_rlimit_nofile: number | null;
  readonly error_log: readonly ErrorLog[];
  readonly worker_connections: number;
}

/** Conditions of `if (...)` (ngx_http_rewrite_module). */
export type IfCondition =
  | { readonly kind: "variable"; readonly value: Template }
  | {
      readonly kind: "compare";
      readonly value: Template;
      readonly negate: boolean;
      readonly to: Template;
    }
  | {
      readonly kind: "match";
      readonly value: Template;
      readonly negate: boolean;
      readonly regex: CompiledRegex;
    }
  | {
      readonly kind: "file";
      readonly test: "f" | "d" | "e" | "x";
      readonly negate: boolean;
      readonly path: Template;
    };

/** Rewrite-phase statements, executed in order; never inherited. */
export type StatementBody =
  | {
      readonly kind: "rewrite";
      readonly regex: CompiledRegex;
      readonly replacement: Template;
      readonly flag: "last" | "break" | "redirect" | "permanent" | null;
    }
  /** `return URL` is `return 302 URL`; `return CODE` has text null. */
  | { readonly kind: "return"; readonly code: number; readonly text: Template | null }
  | { readonly kind: "set"; readonly variable: string; readonly value: Template }
  | { readonly kind: "break" }
  | {
      readonly kind: "if";
      readonly condition: IfCondition;
      readonly script: readonly Statement[];
      readonly conf: HttpConf;
    };

export type Statement = StatementBody & { readonly file: string; readonly line: number };

export interface Listen {
  /** Grouping key for server selection: "0.0.0.0:80", "[::]:80", "127.0.0.1:8080", "unix:/path". */
  readonly key: string;
  /** "0.0.0.0", "::", an address or host name; null for unix sockets. */
  readonly host: string | null;
  readonly port: number | null;
  readonly unix: string | null;
  readonly defaultServer: boolean;
  readonly backlog: number | null;
  readonly ipv6only: boolean;
  readonly reuseport: boolean;
  readonly file: string;
  readonly line: number;
}

export type ServerName =
  | { readonly kind: "exact"; readonly name: string }
  /** `*.example.com` (and half of `.example.com`): suffix ".example.com". */
  | { readonly kind: "leading"; readonly suffix: string }
  /** `www.example.*`: prefix "www.example.". */
  | { readonly kind: "trailing"; readonly prefix: string }
  | { readonly kind: "regex"; readonly regex: CompiledRegex };

export interface Location {
  readonly modifier: "=" | "^~" | "~" | "~*" | "" | "@";
  /** The URI, the regex source, or the name with its "@". */
  readonly name: string;
  readonly regex: CompiledRegex | null;
  readonly file: string;
  readonly line: number;
  readonly conf: HttpConf;
  readonly script: readonly Statement[];
  /** Nested locations in config order. */
  readonly locations: readonly Location[];
}

export interface Server {
  readonly file: string;
  readonly line: number;
  readonly listen: readonly Listen[];
  /** Names as written (first is `$server_name`), and their compiled forms. */
  readonly serverNameText: readonly string[];
  readonly serverNames: readonly ServerName[];
  readonly conf: HttpConf;
  readonly script: readonly Statement[];
  readonly locations: readonly Location[];
  /** The compiled location tree (named locations reachable only via findNamedLocation). */
  readonly router: LocationTree<Location>;
}

export interface UpstreamServer {
  /** "host:port" or "unix:/path". */
  readonly address: string;
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  readonly maxConns: number;
  readonly backup: boolean;
  readonly down: boolean;
  readonly file: string;
  readonly line: number;
}

export interface Upstream {
  readonly name: string;
  readonly servers: readonly UpstreamServer[];
  /** The balancing method: round robin unless least_conn, ip_hash, hash or random is given. */
  readonly balance: "round_robin" | "least_conn" | "ip_hash" | "hash" | "random";
  /** `hash KEY [consistent]`. */
  readonly hashKey: Template | null;
  readonly hashConsistent: boolean;
  /** `keepalive N`: idle connections kept per worker, null when not configured. */
  readonly keepalive: number | null;
  /** Seconds. */
  readonly keepaliveTimeout: number;
  readonly keepaliveRequests: number;
  readonly file: string;
  readonly line: number;
}

/**
 * `app NAME { module ...; workers 4; ... }`: a WSGI app served by this process's own
 * worker pool (one-process mode). `settings` holds every setting of the settings table
 * (src/config/settings.ts): the block's values over the table's defaults.
 */
export interface AppConf {
  readonly name: string;
  /** "package.module:callable" (`module` or `wsgi_app`). */
  readonly module: string;
  readonly settings: Settings;
  readonly file: string;
  readonly line: number;
}

/** Servers sharing one listening socket, in config order, and the default among them. */
export interface ListenGroup {
  readonly key: string;
  readonly listen: Listen;
  readonly servers: readonly Server[];
  readonly defaultServer: Server;
}

export interface NginxConfig {
  /** The main config file, absolute. */
  readonly file: string;
  readonly prefix: string;
  readonly main: MainConf;
  /** The http-level settings (after defaults). */
  readonly http: HttpConf;
  readonly servers: readonly Server[];
  readonly upstreams: Readonly<Record<string, Upstream>>;
  /** `app` blocks by name, in config order. */
  readonly apps: Readonly<Record<string, AppConf>>;
  readonly logFormats: Readonly<
    Record<string, { readonly escape: "default" | "json" | "none"; readonly format: Template }>
  >;
  readonly listenGroups: readonly ListenGroup[];
  /** Variables declared by `set` and named regex captures (valid everywhere). */
  readonly userVariables: readonly string[];
  /** False for a bare site file (no `http` block): an implicit Debian-like http level was used. */
  readonly fullConfig: boolean;
}
