/**
 * The proxy and upstream directives the article's site file uses. Parsed and validated
 * here; their behaviour belongs to src/proxy (issue 6), which adds its other directives
 * to this file (and `app`/`app_pass` with the reserved `app` context).
 */
import type { ApplyContext, DirectiveDecl } from "./directive-types.js";
import type { ProxyPass, ProxyRedirect, UpstreamServer } from "./model.js";
import { HSL, arg0, section, setting } from "./table-helpers.js";
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
