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
import { msec, timeIso8601, timeLocal } from "./time.js";

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

/**
 * The lookup for one request. Numbered captures are asked for as "1".."9" (and "0"),
 * named ones by name; `set` variables shadow nothing built in (the builder forbids that).
 */
export function variableLookup(st: RequestState): VariableLookup {
  const req = st.req;
  const conn = req.connection;
  const lookup: VariableLookup = (name) => {
    if (name.length === 1 && name >= "0" && name <= "9")
      return st.captures.numbered[Number(name)] ?? null;
    switch (name) {
      case "host":
        return st.host !== "" ? st.host : (st.server.serverNameText[0] ?? "");
      case "remote_addr":
        return remoteAddr(st);
      case "remote_port":
        return conn.family === "unix" ? "" : String(conn.remotePort);
      case "scheme":
        return req.scheme;
      case "request_uri":
        return requestUri(st);
      case "uri":
      case "document_uri":
        return st.uri;
      case "args":
      case "query_string":
        return st.args;
      case "is_args":
        return st.args !== "" ? "?" : "";
      case "request_method":
        return st.method;
      case "request":
        return `${req.method} ${req.target} HTTP/${req.versionMajor}.${req.versionMinor}`;
      case "server_name":
        return st.server.serverNameText[0] ?? "";
      case "server_port":
        return conn.family === "unix" ? "" : String(conn.localPort);
      case "server_addr":
        return conn.family === "unix" ? "unix:" : stripMapped(conn.localAddress);
      case "server_protocol":
        return `HTTP/${req.versionMajor}.${req.versionMinor}`;
      case "status":
        return String(st.finalStatus ?? st.res.status).padStart(3, "0");
      case "body_bytes_sent":
        return String(st.res.bodyBytesSent);
      case "bytes_sent":
        return String(st.res.bytesSent);
      case "request_time":
        return msec(Number((process.hrtime.bigint() - req.startedAt) / 1_000_000n));
      case "time_local":
        return timeLocal(new Date());
      case "time_iso8601":
        return timeIso8601(new Date());
      case "msec":
        return msec(Date.now());
      case "connection":
        return String(conn.id);
      case "connection_requests":
        return String(conn.requests);
      case "document_root":
        return documentRoot(st, lookup);
      case "realpath_root": {
        const root = documentRoot(st, lookup);
        try {
          return realpathSync(root);
        } catch {
          return null;
        }
      }
      case "request_length":
        return String(req.headBytes + req.body.bytesRead);
      case "request_filename": {
        const root = documentRoot(st, lookup);
        if (st.conf.root.alias && st.location !== null && st.location.regex === null) {
          return root + st.uri.slice(st.location.name.length);
        }
        return root.replace(/\/$/, "") + st.uri;
      }
      case "content_type":
        return req.header("content-type");
      case "content_length":
        return req.header("content-length");
      case "hostname":
        return hostname();
      case "pid":
        return String(process.pid);
      case "nginx_version":
        return VERSION;
      case "remote_user":
        return remoteUser(st);
      case "request_body":
        return null;
      case "proxy_add_x_forwarded_for":
        return addXForwardedFor(req.headers, lookup("remote_addr") ?? "");
      case "proxy_host":
      case "proxy_port": {
        // The proxy_pass target of the location in force (the proxy computes the same).
        const pp = st.conf.proxy_pass;
        if (pp === null) return null;
        try {
          const t = parsePassUrl(evaluate(pp.url, lookup));
          return name === "proxy_host" ? t.proxyHost : t.proxyPort;
        } catch {
          return null;
        }
      }
      case "upstream_addr":
        return st.upstream?.addr ?? null;
      case "upstream_status":
        return st.upstream?.status ?? null;
      case "upstream_response_time":
        return st.upstream?.responseTime ?? null;
      case "upstream_connect_time":
        return st.upstream?.connectTime ?? null;
      case "upstream_header_time":
        return st.upstream?.headerTime ?? null;
    }
    if (name.startsWith("http_")) return requestHeader(st, name.slice(5).replace(/_/g, "-"));
    if (name.startsWith("arg_")) return argValue(st.args, name.slice(4));
    if (name.startsWith("cookie_")) return cookieValue(st, name.slice(7));
    if (name.startsWith("sent_http_")) return st.res.sentHeader(name.slice(10).replace(/_/g, "-"));
    const set = st.setVars?.get(name);
    if (set !== undefined) return set;
    return st.captures.named[name] ?? null;
  };
  return lookup;
}
