/**
 * The proxy's plain options (src/proxy/types.ts) from the nginx model: one
 * ProxyHandler per location settings object, one UpstreamGroup per `upstream` block.
 *
 * The config model names only proxy_pass, proxy_set_header and proxy_redirect so far;
 * the other proxy_* settings are read here when the model has them (same names as the
 * directives, seconds for times) and otherwise keep nginx's defaults (PROXY_DEFAULTS).
 */
import {
  evaluate,
  type HttpConf,
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
  type ProxyOptions,
  type RedirectSpec,
  type UpstreamSpec,
  type VarGetter,
} from "../proxy/index.js";

function asLookup(vars: VarGetter): VariableLookup {
  return (n) => vars(n);
}

/** A setting the model may or may not carry yet. */
function extra(conf: HttpConf, key: string): unknown {
  return (conf as unknown as Record<string, unknown>)[key];
}

function num(conf: HttpConf, key: string, dflt: number, scale = 1): number {
  const v = extra(conf, key);
  return typeof v === "number" ? v * scale : dflt;
}

function bool(conf: HttpConf, key: string, dflt: boolean): boolean {
  const v = extra(conf, key);
  return typeof v === "boolean" ? v : dflt;
}

function strings(conf: HttpConf, key: string): readonly string[] {
  const v = extra(conf, key);
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : [];
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
  const pp = conf.proxy_pass!;
  const url = pp.url;
  const version = extra(conf, "proxy_http_version");
  return {
    ...PROXY_DEFAULTS,
    pass: url.constant ? url.source : (vars: VarGetter) => evaluate(url, asLookup(vars)),
    setHeaders: (conf.proxy_set_header ?? []).map(
      ([name, t]) => [name, (vars: VarGetter) => evaluate(t, asLookup(vars))] as const,
    ),
    hideHeaders: strings(conf, "proxy_hide_header"),
    passHeaders: strings(conf, "proxy_pass_header"),
    redirect: redirectSpec(conf),
    httpVersion: version === "1.1" ? "1.1" : "1.0",
    buffering: bool(conf, "proxy_buffering", PROXY_DEFAULTS.buffering),
    requestBuffering: bool(conf, "proxy_request_buffering", PROXY_DEFAULTS.requestBuffering),
    connectTimeout: num(conf, "proxy_connect_timeout", PROXY_DEFAULTS.connectTimeout, 1000),
    readTimeout: num(conf, "proxy_read_timeout", PROXY_DEFAULTS.readTimeout, 1000),
    sendTimeout: num(conf, "proxy_send_timeout", PROXY_DEFAULTS.sendTimeout, 1000),
    nextUpstreamTries: num(conf, "proxy_next_upstream_tries", 0),
    nextUpstreamTimeout: num(conf, "proxy_next_upstream_timeout", 0, 1000),
    interceptErrors: bool(conf, "proxy_intercept_errors", false) ? hasErrorPage : null,
  };
}

function upstreamSpec(u: Upstream): UpstreamSpec {
  const x = u as unknown as Record<string, unknown>;
  const balance = x["balance"];
  const keepalive = x["keepalive"];
  const kaTimeout = x["keepaliveTimeout"];
  const kaRequests = x["keepaliveRequests"];
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
    balance:
      balance === "least_conn" || balance === "ip_hash" || balance === "random"
        ? balance
        : "round_robin",
    keepalive: typeof keepalive === "number" ? keepalive : null,
    keepaliveTimeout: typeof kaTimeout === "number" ? kaTimeout * 1000 : 60_000,
    keepaliveRequests: typeof kaRequests === "number" ? kaRequests : 1000,
  };
}

/** The proxy side of a site: upstream groups, the connection pools, a handler per location. */
export class SiteProxy {
  readonly clients = new UpstreamClients();
  private readonly groups = new Map<string, UpstreamGroup>();
  private readonly handlers = new WeakMap<HttpConf, ProxyHandler>();

  constructor(
    upstreams: Readonly<Record<string, Upstream>>,
    private readonly log: Logger,
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
        { clients: this.clients, upstreams: this.groups, log: this.log },
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
