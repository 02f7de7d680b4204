/**
 * The nginx variables of a request (ngx_http_variables.c, ngx_http_core_variables and
 * the proxy/upstream modules), as one lookup for `evaluate()` and the access log.
 *
 * "Not found" is null: it evaluates to "" in config values and logs as "-", as nginx
 * distinguishes an absent variable from an empty one.
 */
import { realpathSync } from "node:fs";
import { hostname } from "node:os";
import { evaluate, type VariableLookup } from "../config/nginx/index.js";
import { addXForwardedFor, parseCidr, parsePassUrl, realIp, type Cidr } from "../proxy/index.js";
import { VERSION } from "../version.js";
import type { RequestState } from "./state.js";
import { msec, timeIso8601Now, timeLocalNow } from "./time.js";

/** `$http_user_agent` → every "User-Agent" field, joined as nginx 1.23+ joins them. */
function requestHeader(st: RequestState, dashed: string): string | null {
  const vals: string[] = [];
  for (const [n, v] of st.req.headers) if (n.toLowerCase() === dashed) vals.push(v);
  if (vals.length === 0) return null;
  return vals.join(dashed === "cookie" ? "; " : ", ");
}

/** `$arg_name`: the raw value of the first `name=` in the query (names compared caselessly). */
export function argValue(args: string, name: string): string | null {
  if (args === "") return null;
  for (const part of args.split("&")) {
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k.toLowerCase() === name) return eq < 0 ? "" : part.slice(eq + 1);
  }
  return null;
}

function cookieValue(st: RequestState, name: string): string | null {
  const c = requestHeader(st, "cookie");
  if (c === null) return null;
  for (const part of c.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** $request_uri: the target as sent (path and query for an absolute-form target). */
export function requestUri(st: RequestState): string {
  const r = st.req;
  return r.targetForm === "origin" ? r.target : r.path + (r.query !== "" ? "?" + r.query : "");
}

/** $remote_user from `Authorization: Basic`. */
function remoteUser(st: RequestState): string | null {
  const a = st.req.header("authorization");
  const m = a === null ? null : /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(a);
  if (m === null) return null;
  const text = Buffer.from(m[1]!, "base64").toString("latin1");
  const colon = text.indexOf(":");
  return colon < 0 ? null : text.slice(0, colon);
}

/** $document_root: root, or the alias directory, with variables evaluated. */
export function documentRoot(st: RequestState, lookup: VariableLookup): string {
  return evaluate(st.conf.root.path, lookup);
}

function stripMapped(addr: string): string {
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

const trusted = new WeakMap<readonly string[], Cidr[]>();

/**
 * $remote_addr: the peer, or with `set_real_ip_from` (ngx_http_realip_module) the
 * address a trusted proxy put in `real_ip_header`, under the settings in force.
 */
function remoteAddr(st: RequestState): string {
  const conn = st.req.connection;
  // A unix-socket client is "unix:" (set_real_ip_from unix: trusts it).
  const peer = conn.family === "unix" ? "unix:" : stripMapped(conn.remoteAddress);
  const from = st.conf.set_real_ip_from;
  if (from.length === 0) return peer;
  let cidrs = trusted.get(from);
  if (cidrs === undefined) trusted.set(from, (cidrs = from.map((f) => parseCidr(f))));
  const header = st.conf.real_ip_header;
  const lower = header.toLowerCase();
  const values: string[] = [];
  for (const [n, v] of st.req.headers) if (n.toLowerCase() === lower) values.push(v);
  return stripMapped(
    realIp({ from: cidrs, header, recursive: st.conf.real_ip_recursive }, peer, values),
  );
}

/** The proxy_pass target of the location in force (the proxy computes the same). */
function proxyTarget(
  st: RequestState,
  lookup: VariableLookup,
): ReturnType<typeof parsePassUrl> | null {
  const pp = st.conf.proxy_pass;
  if (pp === null) return null;
  try {
    return parsePassUrl(evaluate(pp.url, lookup));
  } catch {
    return null;
  }
}

/** How one variable is read from a request's state. */
type Getter = (st: RequestState, lookup: VariableLookup) => string | null;

/**
 * nginx's built-in variables by name. Found once per name (getterOf), not by comparing
 * the name with each of them on every read.
 */
const TABLE: Readonly<Record<string, Getter>> = {
  host: (st) => (st.host !== "" ? st.host : (st.server.serverNameText[0] ?? "")),
  remote_addr: (st) => remoteAddr(st),
  remote_port: (st) =>
    st.req.connection.family === "unix" ? "" : String(st.req.connection.remotePort),
  scheme: (st) => st.req.scheme,
  request_uri: (st) => requestUri(st),
  uri: (st) => st.uri,
  document_uri: (st) => st.uri,
  args: (st) => st.args,
  query_string: (st) => st.args,
  is_args: (st) => (st.args !== "" ? "?" : ""),
  request_method: (st) => st.method,
  request: (st) =>
    `${st.req.method} ${st.req.target} HTTP/${st.req.versionMajor}.${st.req.versionMinor}`,
  server_name: (st) => st.server.serverNameText[0] ?? "",
  server_port: (st) =>
    st.req.connection.family === "unix" ? "" : String(st.req.connection.localPort),
  server_addr: (st) =>
    st.req.connection.family === "unix" ? "unix:" : stripMapped(st.req.connection.localAddress),
  server_protocol: (st) => `HTTP/${st.req.versionMajor}.${st.req.versionMinor}`,
  status: (st) => String(st.finalStatus ?? st.res.status).padStart(3, "0"),
  body_bytes_sent: (st) => String(st.res.bodyBytesSent),
  bytes_sent: (st) => String(st.res.bytesSent),
  request_time: (st) => msec(Number((process.hrtime.bigint() - st.req.startedAt) / 1_000_000n)),
  time_local: () => timeLocalNow(),
  time_iso8601: () => timeIso8601Now(),
  msec: () => msec(Date.now()),
  connection: (st) => String(st.req.connection.id),
  connection_requests: (st) => String(st.req.connection.requests),
  document_root: (st, lookup) => documentRoot(st, lookup),
  realpath_root: (st, lookup) => {
    const root = documentRoot(st, lookup);
    try {
      return realpathSync(root);
    } catch {
      return null;
    }
  },
  request_length: (st) => String(st.req.headBytes + st.req.body.bytesRead),
  request_filename: (st, lookup) => {
    const root = documentRoot(st, lookup);
    if (st.conf.root.alias && st.location !== null && st.location.regex === null) {
      return root + st.uri.slice(st.location.name.length);
    }
    return root.replace(/\/$/, "") + st.uri;
  },
  content_type: (st) => st.req.header("content-type"),
  content_length: (st) => st.req.header("content-length"),
  hostname: () => hostname(),
  pid: () => String(process.pid),
  nginx_version: () => VERSION,
  remote_user: (st) => remoteUser(st),
  request_body: () => null,
  proxy_add_x_forwarded_for: (st, lookup) =>
    addXForwardedFor(st.req.headers, lookup("remote_addr") ?? ""),
  proxy_host: (st, lookup) => proxyTarget(st, lookup)?.proxyHost ?? null,
  proxy_port: (st, lookup) => proxyTarget(st, lookup)?.proxyPort ?? null,
  upstream_addr: (st) => st.upstream?.addr ?? null,
  upstream_status: (st) => st.upstream?.status ?? null,
  upstream_response_time: (st) => st.upstream?.responseTime ?? null,
  upstream_connect_time: (st) => st.upstream?.connectTime ?? null,
  upstream_header_time: (st) => st.upstream?.headerTime ?? null,
};

const BUILTIN = new Map<string, Getter>(Object.entries(TABLE));

/** The getter of a name that is not built in: prefixed names, `set` variables, named captures. */
function otherGetter(name: string): Getter {
  if (name.length === 1 && name >= "0" && name <= "9") {
    const i = Number(name);
    return (st) => st.captures.numbered[i] ?? null;
  }
  if (name.startsWith("http_")) {
    const dashed = name.slice(5).replace(/_/g, "-");
    return (st) => requestHeader(st, dashed);
  }
  if (name.startsWith("arg_")) {
    const arg = name.slice(4);
    return (st) => argValue(st.args, arg);
  }
  if (name.startsWith("cookie_")) {
    const cookie = name.slice(7);
    return (st) => cookieValue(st, cookie);
  }
  if (name.startsWith("sent_http_")) {
    const dashed = name.slice(10).replace(/_/g, "-");
    return (st) => st.res.sentHeader(dashed);
  }
  return (st) => {
    const set = st.setVars?.get(name);
    if (set !== undefined) return set;
    return st.captures.named[name] ?? null;
  };
}

/** Names come from the config; the bound only guards against an unforeseen caller. */
const MAX_GETTERS = 4096;
const getters = new Map<string, Getter>();

function getterOf(name: string): Getter {
  let g = getters.get(name);
  if (g === undefined) {
    const digit = name.length === 1 && name >= "0" && name <= "9";
    g = (!digit ? BUILTIN.get(name) : undefined) ?? otherGetter(name);
    if (getters.size < MAX_GETTERS) getters.set(name, g);
  }
  return g;
}

/**
 * The lookup for one request. Numbered captures are asked for as "1".."9" (and "0"),
 * named ones by name; `set` variables shadow nothing built in (the builder forbids that).
 */
export function variableLookup(st: RequestState): VariableLookup {
  const lookup: VariableLookup = (name) => getterOf(name)(st, lookup);
  return lookup;
}
