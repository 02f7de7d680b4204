/**
 * The proxy and upstream directives the article's site file uses. Parsed and validated
 * here; their behaviour belongs to src/proxy (issue 6). More proxy directives go in
 * PROXY_MORE_DIRECTIVES below (and `app`/`app_pass` with the reserved `app` context).
 */
import { isIP } from "node:net";
import type { ApplyContext, DirectiveDecl, SettingKey } from "./directive-types.js";
import type { NextUpstream, ProxyPass, ProxyRedirect, Upstream, UpstreamServer } from "./model.js";
import {
  HSL,
  arg0,
  enumValue,
  flagValue,
  listSetting,
  numberValue,
  section,
  setting,
  timeValue,
} from "./table-helpers.js";
import { parseNginxTime } from "./values.js";
import type { Template } from "./variables.js";

const proxy = section("Proxy and upstreams");
type HeaderList = readonly (readonly [string, Template])[];

function parseProxyPass(c: ApplyContext): ProxyPass {
  const url = arg0(c);
  const m = /^(https?):\/\/(.*)$/i.exec(url);
  if (!m) c.fail(`invalid URL prefix in "${url}"`);
  const scheme = m[1]!.toLowerCase() as "http" | "https";
  const rest = m[2]!;
  const template = c.template(url);
  if (!template.constant) return { url: template, upstream: null, scheme, uri: null };
  let hostPart: string;
  let uri: string | null;
  if (rest.startsWith("unix:")) {
    // http://unix:/path/to.sock:/uri
    const colon = rest.indexOf(":", 5);
    hostPart = colon < 0 ? rest : rest.slice(0, colon);
    uri = colon < 0 ? null : rest.slice(colon + 1) || null;
  } else {
    const slash = rest.indexOf("/");
    hostPart = slash < 0 ? rest : rest.slice(0, slash);
    uri = slash < 0 ? null : rest.slice(slash);
  }
  if (hostPart === "" || hostPart === "unix:") c.fail(`no host in upstream "${rest}"`);
  // Resolved against `upstream` blocks once the whole config is read (they may come later).
  return { url: template, upstream: hostPart.includes(":") ? null : hostPart, scheme, uri };
}

function parseProxyRedirect(c: ApplyContext): ProxyRedirect {
  if (c.args.length === 1) {
    if (arg0(c) === "off") return { kind: "off" };
    if (arg0(c) === "default") return { kind: "default" };
    c.fail('invalid number of arguments in "proxy_redirect" directive');
  }
  const from = arg0(c);
  const to = c.template(c.args[1]!);
  if (from.startsWith("~*"))
    return { kind: "rules", rules: [{ from: c.regex(from.slice(2), true), to }] };
  if (from.startsWith("~"))
    return { kind: "rules", rules: [{ from: c.regex(from.slice(1), false), to }] };
  return { kind: "rules", rules: [{ from: c.template(from), to }] };
}

function parseUpstreamServer(c: ApplyContext): readonly UpstreamServer[] {
  let address = arg0(c);
  if (!address.startsWith("unix:") && !/:\d+$/.test(address)) address += ":80";
  if (address.startsWith("unix:") && address.length === 5) c.fail(`invalid parameter "${address}"`);
  const s = {
    address,
    weight: 1,
    maxFails: 1,
    failTimeout: 10,
    maxConns: 0,
    backup: false,
    down: false,
    file: c.file,
    line: c.line,
  };
  for (const p of c.args.slice(1)) {
    const [k, v = ""] = p.split("=", 2) as [string, string?];
    const int = (): number => {
      if (!/^\d+$/.test(v)) c.fail(`invalid parameter "${p}"`);
      return Number(v);
    };
    if (k === "weight" && p.includes("=")) {
      s.weight = int();
      if (s.weight < 1) c.fail(`invalid parameter "${p}"`);
    } else if (k === "max_fails" && p.includes("=")) s.maxFails = int();
    else if (k === "max_conns" && p.includes("=")) s.maxConns = int();
    else if (k === "fail_timeout" && p.includes("=")) {
      const t = parseNginxTime(v);
      if (t === null) c.fail(`invalid parameter "${p}"`);
      s.failTimeout = t;
    } else if (p === "backup") s.backup = true;
    else if (p === "down") s.down = true;
    else c.fail(`invalid parameter "${p}"`);
  }
  return [s];
}

export const PROXY_DIRECTIVES: readonly DirectiveDecl[] = [
  proxy({
    name: "upstream",
    contexts: ["http"],
    args: [1, 1],
    block: true,
    syntax: "upstream name { server address [parameters]; ... }",
    effect: "later",
    doc: "A named group of backend servers for `proxy_pass http://name`.",
    handler: { kind: "structure" },
  }),
  proxy({
    name: "server",
    contexts: ["upstream"],
    args: [1, Infinity],
    syntax:
      "server address [weight=n] [max_fails=n] [fail_timeout=time] [max_conns=n] [backup] [down];",
    effect: "later",
    doc: "A backend of an upstream: `host:port` (port 80 by default) or `unix:/path`. Defaults: weight=1 max_fails=1 fail_timeout=10s max_conns=0 (unlimited).",
    handler: setting("upstream_server", parseUpstreamServer, {
      multiple: true,
      accumulate: (prev: readonly UpstreamServer[], next: readonly UpstreamServer[]) => [
        ...prev,
        ...next,
      ],
      unset: [],
    }),
  }),
  proxy({
    name: "proxy_pass",
    contexts: ["location", "lif"],
    args: [1, 1],
    syntax: "proxy_pass URL;",
    effect: "later",
    doc: "Proxy requests of this location to `http://upstream_name`, `http://host:port[/uri]` or `http://unix:/path:[/uri]`. With a URI part, the matched location prefix is replaced by it. Not inherited. A prefix location ending in `/` with `proxy_pass` redirects the URI without the slash (301), as nginx.",
    handler: setting("proxy_pass", parseProxyPass, { merge: "none", unset: null }),
  }),
  proxy({
    name: "proxy_set_header",
    contexts: HSL,
    args: [2, 2],
    syntax: "proxy_set_header field value;",
    effect: "later",
    doc: "Set a request header sent upstream (an empty value removes it). Defaults `Host $proxy_host` and `Connection close`. A level with any `proxy_set_header` replaces the inherited set.",
    handler: setting<HeaderList | null>(
      "proxy_set_header",
      (c) => [[arg0(c), c.template(c.args[1]!)] as const],
      {
        multiple: true,
        accumulate: (prev, next) => [...(prev ?? []), ...(next ?? [])],
        unset: null,
      },
    ),
  }),
  proxy({
    name: "proxy_redirect",
    contexts: HSL,
    args: [1, 2],
    syntax: "proxy_redirect default | off;\nproxy_redirect redirect replacement;",
    default: "default",
    effect: "later",
    doc: "Rewrite `Location` and `Refresh` headers from the upstream: `default` maps the proxied URL back to the location, `off` leaves them, explicit pairs (or `~regex`) rewrite.",
    handler: setting("proxy_redirect", parseProxyRedirect, {
      multiple: true,
      accumulate: (prev: ProxyRedirect, next: ProxyRedirect): ProxyRedirect =>
        prev.kind === "rules" && next.kind === "rules"
          ? { kind: "rules", rules: [...prev.rules, ...next.rules] }
          : next,
    }),
  }),
];

// --- issue 6: the rest of the proxy module, upstream balancing, real IP ----------------

const proxyFlag = (name: string, dflt: "on" | "off", doc: string): DirectiveDecl =>
  proxy({
    name,
    contexts: HSL,
    args: [1, 1],
    syntax: `${name} on | off;`,
    default: dflt,
    effect: "later",
    doc,
    handler: setting(name as SettingKey, (c) => flagValue(c)),
  });

const proxyTime = (name: string, doc: string, dflt = "60s"): DirectiveDecl =>
  proxy({
    name,
    contexts: HSL,
    args: [1, 1],
    syntax: `${name} time;`,
    default: dflt,
    effect: "later",
    doc,
    handler: setting(name as SettingKey, (c) => timeValue(c)),
  });

function parseNextUpstream(c: ApplyContext): NextUpstream | null {
  if (c.args.length === 1 && c.args[0] === "off") return null;
  const out = {
    error: false,
    timeout: false,
    invalidHeader: false,
    statuses: [] as number[],
    nonIdempotent: false,
  };
  for (const a of c.args) {
    if (a === "error") out.error = true;
    else if (a === "timeout") out.timeout = true;
    else if (a === "invalid_header") out.invalidHeader = true;
    else if (a === "non_idempotent") out.nonIdempotent = true;
    else if (/^http_(500|502|503|504|403|404|429)$/.test(a)) out.statuses.push(Number(a.slice(5)));
    else c.fail(`invalid value "${a}"`);
  }
  return out;
}

const upstreamBalance = (
  name: "least_conn" | "ip_hash" | "random" | "hash",
  args: readonly [number, number],
  syntax: string,
  doc: string,
): DirectiveDecl =>
  proxy({
    name,
    contexts: ["upstream"],
    args,
    syntax,
    effect: "later",
    doc,
    handler: setting<Pick<Upstream, "balance" | "hashKey" | "hashConsistent">>(
      "upstream_balance",
      (c) => {
        if (name === "random" && c.args.length === 1 && c.args[0] !== "two")
          c.fail(`invalid parameter "${c.args[0]!}"`);
        if (name === "hash" && c.args.length === 2 && c.args[1] !== "consistent")
          c.fail(`invalid parameter "${c.args[1]!}"`);
        return {
          balance: name,
          hashKey: name === "hash" ? c.template(c.args[0]!) : null,
          hashConsistent: name === "hash" && c.args[1] === "consistent",
        };
      },
      { unset: { balance: "round_robin", hashKey: null, hashConsistent: false } },
    ),
  });

export const PROXY_MORE_DIRECTIVES: readonly DirectiveDecl[] = [
  proxy({
    name: "proxy_http_version",
    contexts: HSL,
    args: [1, 1],
    syntax: "proxy_http_version 1.0 | 1.1;",
    default: "1.0",
    effect: "later",
    doc: 'HTTP version spoken to the upstream; 1.1 (with `proxy_set_header Connection ""`) allows keep-alive connections.',
    handler: setting("proxy_http_version", (c) => enumValue(c, ["1.0", "1.1"] as const)),
  }),
  proxy({
    name: "proxy_hide_header",
    contexts: HSL,
    args: [1, 1],
    syntax: "proxy_hide_header field;",
    effect: "later",
    doc: "Do not pass this upstream response header to the client (besides nginx's default list: Date, Server, X-Pad, X-Accel-...).",
    handler: listSetting("proxy_hide_header", arg0),
  }),
  proxy({
    name: "proxy_pass_header",
    contexts: HSL,
    args: [1, 1],
    syntax: "proxy_pass_header field;",
    effect: "later",
    doc: "Pass a header that is hidden by default.",
    handler: listSetting("proxy_pass_header", arg0),
  }),
  proxyFlag(
    "proxy_buffering",
    "on",
    "On: the response is read from the upstream as fast as it comes (spilling to a temporary file), freeing the upstream while a slow client reads. Off: streamed at the client's pace.",
  ),
  proxyFlag(
    "proxy_request_buffering",
    "on",
    "On: the whole request body is read before the upstream is contacted. Off: streamed to the upstream as it arrives.",
  ),
  proxyTime("proxy_connect_timeout", "Time allowed to connect to an upstream server."),
  proxyTime("proxy_read_timeout", "Longest pause between two reads from the upstream; then 504."),
  proxyTime("proxy_send_timeout", "Longest pause between two writes to the upstream."),
  proxy({
    name: "proxy_next_upstream",
    contexts: HSL,
    args: [1, Infinity],
    syntax:
      "proxy_next_upstream error | timeout | invalid_header | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | non_idempotent | off ...;",
    default: "error timeout",
    effect: "later",
    doc: "When to try the next server of the upstream. Requests with non-idempotent methods (POST, LOCK, PATCH) are never retried once sent unless `non_idempotent` is given.",
    handler: setting("proxy_next_upstream", parseNextUpstream),
  }),
  proxy({
    name: "proxy_next_upstream_tries",
    contexts: HSL,
    args: [1, 1],
    syntax: "proxy_next_upstream_tries number;",
    default: "0",
    effect: "later",
    doc: "The most servers tried for one request; 0 means no limit.",
    handler: setting("proxy_next_upstream_tries", (c) => numberValue(c)),
  }),
  proxyTime(
    "proxy_next_upstream_timeout",
    "How long trying further servers may take; 0 means no limit.",
    "0",
  ),
  proxyFlag(
    "proxy_intercept_errors",
    "off",
    "Upstream responses with a status >= 300 for which the location has an `error_page` are replaced by that page.",
  ),
  proxy({
    name: "set_real_ip_from",
    contexts: HSL,
    args: [1, 1],
    syntax: "set_real_ip_from address | CIDR | unix:;",
    effect: "later",
    doc: "A trusted proxy: requests from it take the client address from `real_ip_header`.",
    handler: listSetting("set_real_ip_from", (c) => {
      const v = arg0(c);
      const [addr = "", bits] = v.split("/");
      const ver = isIP(addr);
      if (
        v !== "unix:" &&
        (ver === 0 ||
          (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (ver === 4 ? 32 : 128))))
      ) {
        c.fail(`invalid parameter "${v}"`);
      }
      return v;
    }),
  }),
  proxy({
    name: "real_ip_header",
    contexts: HSL,
    args: [1, 1],
    syntax: "real_ip_header field | X-Real-IP | X-Forwarded-For | proxy_protocol;",
    default: "X-Real-IP",
    effect: "later",
    doc: "The header that carries the client address from a trusted proxy.",
    handler: setting("real_ip_header", arg0),
  }),
  proxyFlag(
    "real_ip_recursive",
    "off",
    "Skip trusted addresses in `X-Forwarded-For` from the right; the first untrusted one is the client.",
  ),
  upstreamBalance(
    "least_conn",
    [0, 0],
    "least_conn;",
    "Send each request to the server with the fewest active connections (weights respected).",
  ),
  upstreamBalance(
    "ip_hash",
    [0, 0],
    "ip_hash;",
    "Choose the server from the client address (the first three octets for IPv4), so a client sticks to one server.",
  ),
  upstreamBalance(
    "hash",
    [1, 2],
    "hash key [consistent];",
    "Choose the server from a key with variables (e.g. `$request_uri`); `consistent` uses ketama consistent hashing.",
  ),
  upstreamBalance(
    "random",
    [0, 1],
    "random [two];",
    "Choose a server at random (weights respected); `two` picks the less loaded of two.",
  ),
  proxy({
    name: "keepalive",
    contexts: ["upstream"],
    args: [1, 1],
    syntax: "keepalive connections;",
    effect: "later",
    doc: "Keep up to this many idle connections to the upstream servers open per worker process.",
    handler: setting("upstream_keepalive", (c) => numberValue(c, 0, 1), { unset: null }),
  }),
  proxy({
    name: "keepalive_timeout",
    contexts: ["upstream"],
    args: [1, 1],
    syntax: "keepalive_timeout timeout;",
    default: "60s",
    effect: "later",
    doc: "How long an idle upstream connection is kept.",
    handler: setting("upstream_keepalive_timeout", (c) => timeValue(c)),
  }),
  proxy({
    name: "keepalive_requests",
    contexts: ["upstream"],
    args: [1, 1],
    syntax: "keepalive_requests number;",
    default: "1000",
    effect: "later",
    doc: "Requests served over one upstream keep-alive connection before it is closed.",
    handler: setting("upstream_keepalive_requests", (c) => numberValue(c)),
  }),
];
