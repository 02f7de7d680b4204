/**
 * Header hygiene in both directions, as ngx_http_proxy_create_request and
 * ngx_http_upstream_process_headers do it, plus RFC 9110 §7.6.1 (fields named in
 * Connection are dropped too, which nginx does not do).
 *
 * Upstream request: the `proxy_set_header` list first (empty values removed), then the
 * client's fields except the ones it names and the hop-by-hop ones. nginx's built-in
 * set applies to names the list leaves out: Host $proxy_host, Connection close, and
 * TE, Keep-Alive, Expect, Upgrade emptied. Framing (Content-Length/Transfer-Encoding)
 * is the upstream client's to write.
 */
import type { HeaderList } from "../http/types.js";
import { connectionTokens, isHopByHop } from "./hop-by-hop.js";
import type { RedirectRewriter } from "./redirect.js";
import type { Template, VarGetter } from "./types.js";

const hostTemplate: Template = (v) => v("proxy_host") ?? "";
const closeTemplate: Template = () => "close";
const emptyTemplate: Template = () => "";

/** nginx's ngx_http_proxy_headers, minus the framing pair handled by the client. */
export const DEFAULT_SET_HEADERS: ReadonlyArray<readonly [string, Template]> = [
  ["Host", hostTemplate],
  ["Connection", closeTemplate],
  ["TE", emptyTemplate],
  ["Keep-Alive", emptyTemplate],
  ["Expect", emptyTemplate],
  ["Upgrade", emptyTemplate],
];

/** Fields the body framing owns; never taken from config or client. */
const FRAMING = new Set(["content-length", "transfer-encoding"]);

export interface UpstreamRequestHead {
  /** End-to-end fields to send, Host first when set. */
  readonly headers: HeaderList;
  /** The evaluated Connection value said "close" (nginx default): no keep-alive. */
  readonly close: boolean;
  /** Protocol to request when Connection says "upgrade" and Upgrade is non-empty. */
  readonly upgrade: string | null;
}

/** The configured list completed with nginx's defaults for names it does not mention. */
export function effectiveSetHeaders(
  configured: ReadonlyArray<readonly [string, Template]>,
): ReadonlyArray<readonly [string, Template]> {
  const named = new Set(configured.map(([n]) => n.toLowerCase()));
  return [...configured, ...DEFAULT_SET_HEADERS.filter(([n]) => !named.has(n.toLowerCase()))];
}

interface CompiledSet {
  readonly entries: ReadonlyArray<readonly [name: string, lower: string, value: Template]>;
  /** Lower-cased names the list sets: the client's fields of these names are not passed. */
  readonly overridden: ReadonlySet<string>;
}

/** The names of a proxy_set_header list lower-cased once per list, not per request. */
const compiled = new WeakMap<ReadonlyArray<readonly [string, Template]>, CompiledSet>();

function compile(setHeaders: ReadonlyArray<readonly [string, Template]>): CompiledSet {
  let c = compiled.get(setHeaders);
  if (c === undefined) {
    const entries = setHeaders.map(([n, t]) => [n, n.toLowerCase(), t] as const);
    c = { entries, overridden: new Set(entries.map((e) => e[1])) };
    compiled.set(setHeaders, c);
  }
  return c;
}

export function buildUpstreamRequestHead(
  setHeaders: ReadonlyArray<readonly [string, Template]>,
  clientHeaders: HeaderList,
  passClientHeaders: boolean,
  vars: VarGetter,
): UpstreamRequestHead {
  const out: HeaderList = [];
  const { entries, overridden } = compile(setHeaders);
  let connection = "";
  let upgrade = "";
  for (const [name, lower, tpl] of entries) {
    const value = tpl(vars);
    if (lower === "connection") {
      connection = value;
      continue;
    }
    if (lower === "upgrade") {
      upgrade = value;
      continue;
    }
    // An empty value removes the field (nginx: "If the value ... is an empty string,
    // then this field will not be passed").
    if (value === "" || FRAMING.has(lower)) continue;
    out.push([name, value]);
  }
  if (passClientHeaders) {
    const tokens = connectionTokens(clientHeaders);
    for (const [name, value] of clientHeaders) {
      const lower = name.toLowerCase();
      if (overridden.has(lower) || FRAMING.has(lower) || lower === "expect") continue;
      if (isHopByHop(lower, tokens)) continue;
      out.push([name, value]);
    }
  }
  let close = false;
  let up = false;
  if (connection !== "") {
    for (const t of connection.toLowerCase().split(",")) {
      const tok = t.trim();
      if (tok === "close") close = true;
      else if (tok === "upgrade") up = true;
    }
  }
  return { headers: out, close, upgrade: up && upgrade !== "" ? upgrade : null };
}

/** Reply fields nginx never passes unless `proxy_pass_header` names them. */
export const DEFAULT_HIDDEN: readonly string[] = [
  "date",
  "server",
  "x-pad",
  "x-accel-expires",
  "x-accel-redirect",
  "x-accel-limit-rate",
  "x-accel-buffering",
  "x-accel-charset",
];

export function hiddenSet(hide: readonly string[], pass: readonly string[]): Set<string> {
  const s = new Set([...DEFAULT_HIDDEN, ...hide.map((h) => h.toLowerCase())]);
  for (const p of pass) s.delete(p.toLowerCase());
  return s;
}

/** The upstream reply's fields as sent to the client. */
export function buildClientResponseHeaders(
  upstream: HeaderList,
  hidden: ReadonlySet<string>,
  redirect: RedirectRewriter,
  vars: VarGetter,
): HeaderList {
  const tokens = connectionTokens(upstream);
  const out: HeaderList = [];
  for (const [name, value] of upstream) {
    const lower = name.toLowerCase();
    if (isHopByHop(lower, tokens) || hidden.has(lower)) continue;
    if (lower === "location" && !redirect.empty) out.push([name, redirect.location(value, vars)]);
    else if (lower === "refresh" && !redirect.empty)
      out.push([name, redirect.refresh(value, vars)]);
    else out.push([name, value]);
  }
  return out;
}

/** `$proxy_add_x_forwarded_for`: the client's X-Forwarded-For values, then $remote_addr. */
export function addXForwardedFor(clientHeaders: HeaderList, remoteAddr: string): string {
  let out = "";
  for (const [n, v] of clientHeaders)
    if (n.length === 15 && n.toLowerCase() === "x-forwarded-for") out += `${v}, `;
  return out + remoteAddr;
}
