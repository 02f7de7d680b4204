/**
 * The proxy's plain options (src/proxy/types.ts) from the nginx model: one
 * ProxyHandler per location settings object, one UpstreamGroup per `upstream` block.
 *
 * Times in the model are seconds, the proxy's are milliseconds. What the config cannot
 * set keeps nginx's defaults (PROXY_DEFAULTS: buffer sizes, temp files).
 */
import {
  evaluate,
  type HttpConf,
  type Template as NginxTemplate,
  type Location,
  type Upstream,
  type VariableLookup,
} from "../config/nginx/index.js";
import type { Logger } from "../core/log.js";
import {
  PROXY_DEFAULTS,
  ProxyHandler,
  UpstreamClients,
  UpstreamGroup,
  type BalanceSpec,
  type ProxyOptions,
  type RedirectSpec,
  type UpstreamSpec,
  type VarGetter,
} from "../proxy/index.js";

function asLookup(vars: VarGetter): VariableLookup {
  return (n) => vars(n);
}

/** A template as the proxy evaluates it; one that is a lone variable ($host) reads it directly. */
function templateOf(t: NginxTemplate): (vars: VarGetter) => string {
  if (t.constant) {
    const v = t.source;
    return () => v;
  }
  const only = t.parts.length === 1 ? t.parts[0]! : null;
  if (only !== null && typeof only !== "string" && "variable" in only) {
    const name = only.variable;
    return (vars) => vars(name) ?? "";
  }
  return (vars) => evaluate(t, asLookup(vars));
}

function redirectSpec(conf: HttpConf): RedirectSpec {
  const r = conf.proxy_redirect;
  if (r.kind === "off") return "off";
  if (r.kind === "default") return ["default"];
  return r.rules.map((rule) => {
    const to = rule.to;
    if ("parts" in rule.from) {
      const from = rule.from;
      return {
        kind: "prefix" as const,
        pattern: (v: VarGetter) => evaluate(from, asLookup(v)),
        replacement: (v: VarGetter) => evaluate(to, asLookup(v)),
      };
    }
    const re = rule.from.regex;
    return {
      kind: "regex" as const,
      pattern: re,
      replacement: (m: RegExpExecArray, v: VarGetter) =>
        evaluate(to, (n) => (/^\d$/.test(n) ? (m[Number(n)] ?? "") : (m.groups?.[n] ?? v(n)))),
    };
  });
}

export function proxyOptions(
  conf: HttpConf,
  hasErrorPage: (status: number) => boolean,
): ProxyOptions {
  const url = conf.proxy_pass!.url;
  const nu = conf.proxy_next_upstream;
  return {
    ...PROXY_DEFAULTS,
    pass: url.constant ? url.source : (vars: VarGetter) => evaluate(url, asLookup(vars)),
    setHeaders: (conf.proxy_set_header ?? []).map(([name, t]) => [name, templateOf(t)] as const),
    hideHeaders: conf.proxy_hide_header,
    passHeaders: conf.proxy_pass_header,
    redirect: redirectSpec(conf),
    httpVersion: conf.proxy_http_version,
    buffering: conf.proxy_buffering,
    requestBuffering: conf.proxy_request_buffering,
    connectTimeout: conf.proxy_connect_timeout * 1000,
    readTimeout: conf.proxy_read_timeout * 1000,
    sendTimeout: conf.proxy_send_timeout * 1000,
    nextUpstream:
      nu === null
        ? null
        : {
            error: nu.error,
            timeout: nu.timeout,
            invalidHeader: nu.invalidHeader,
            statuses: new Set(nu.statuses),
            nonIdempotent: nu.nonIdempotent,
          },
    nextUpstreamTries: conf.proxy_next_upstream_tries,
    nextUpstreamTimeout: conf.proxy_next_upstream_timeout * 1000,
    interceptErrors: conf.proxy_intercept_errors ? hasErrorPage : null,
  };
}

function balanceSpec(u: Upstream): BalanceSpec {
  if (u.balance === "hash" && u.hashKey !== null) {
    const key = u.hashKey;
    return {
      hash: (vars: VarGetter) => evaluate(key, asLookup(vars)),
      consistent: u.hashConsistent,
    };
  }
  return u.balance === "hash" ? "round_robin" : u.balance;
}

function upstreamSpec(u: Upstream): UpstreamSpec {
  return {
    name: u.name,
    servers: u.servers.map((s) => ({
      address: s.address,
      weight: s.weight,
      maxFails: s.maxFails,
      failTimeout: s.failTimeout * 1000,
      backup: s.backup,
      down: s.down,
      maxConns: s.maxConns,
    })),
    balance: balanceSpec(u),
    keepalive: u.keepalive,
    keepaliveTimeout: u.keepaliveTimeout * 1000,
    keepaliveRequests: u.keepaliveRequests,
  };
}

/** The proxy side of a site: upstream groups, the connection pools, a handler per location. */
export class SiteProxy {
  readonly clients = new UpstreamClients();
  private readonly groups = new Map<string, UpstreamGroup>();
  private readonly handlers = new WeakMap<HttpConf, ProxyHandler>();

  constructor(
    upstreams: Readonly<Record<string, Upstream>>,
    /** The error log for a location's settings. */
    private readonly log: (conf: HttpConf) => Logger,
  ) {
    for (const [name, u] of Object.entries(upstreams))
      this.groups.set(name.toLowerCase(), new UpstreamGroup(upstreamSpec(u)));
  }

  /** The handler for a location whose settings have proxy_pass. */
  handler(conf: HttpConf, location: Location | null): ProxyHandler {
    let h = this.handlers.get(conf);
    if (h === undefined) {
      const codes = new Set(conf.error_page.flatMap((e) => e.codes));
      const prefix =
        location !== null && location.regex === null && location.modifier !== "@"
          ? location.name
          : null;
      h = new ProxyHandler(
        proxyOptions(conf, (s) => codes.has(s)),
        { clients: this.clients, upstreams: this.groups, log: this.log(conf) },
        prefix,
      );
      this.handlers.set(conf, h);
    }
    return h;
  }

  async close(): Promise<void> {
    await this.clients.close();
  }
}
