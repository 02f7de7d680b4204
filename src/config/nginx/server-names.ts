/**
 * `server_name` forms and nginx's virtual server choice
 * (https://nginx.org/en/docs/http/server_names.html, ngx_http_find_virtual_server):
 *
 * 1. the exact name;
 * 2. the longest wildcard name starting with an asterisk (`*.example.com`; `.example.com`
 *    counts as both `example.com` and `*.example.com`);
 * 3. the longest wildcard name ending with an asterisk (`mail.*`);
 * 4. the first regular expression (`~^www\d+\.example\.com$`), in config order;
 * 5. otherwise the default server of the listening socket: the one marked
 *    `default_server`, else the first server listed for it.
 */
import type { ApplyContext } from "./directive-types.js";
import type { ListenGroup, Server, ServerName } from "./model.js";
import { execRegex, type Captures, NO_CAPTURES } from "./regex.js";

export function parseServerNames(
  c: ApplyContext,
): readonly { text: string; names: ServerName[] }[] {
  return c.args.map((raw) => {
    if (raw.startsWith("~"))
      return { text: raw, names: [{ kind: "regex", regex: c.regex(raw.slice(1), true) }] };
    const name = raw.toLowerCase();
    if (name.startsWith(".")) {
      if (name.length === 1 || name.includes("*"))
        c.fail(`invalid server name or wildcard "${raw}"`);
      return {
        text: raw,
        names: [
          { kind: "exact", name: name.slice(1) },
          { kind: "leading", suffix: name },
        ],
      };
    }
    if (name.startsWith("*.")) {
      if (name.slice(2).includes("*") || name.length === 2)
        c.fail(`invalid server name or wildcard "${raw}"`);
      return { text: raw, names: [{ kind: "leading", suffix: name.slice(1) }] };
    }
    if (name.endsWith(".*")) {
      if (name.slice(0, -2).includes("*") || name.length === 2)
        c.fail(`invalid server name or wildcard "${raw}"`);
      return { text: raw, names: [{ kind: "trailing", prefix: name.slice(0, -1) }] };
    }
    if (name.includes("*")) c.fail(`invalid server name or wildcard "${raw}"`);
    if (/[\s/]/.test(name)) c.fail(`server name "${raw}" has suspicious symbols`);
    return { text: raw, names: [{ kind: "exact", name }] };
  });
}

/**
 * The Host header value → the name compared with server names: port removed, lower
 * case, one trailing dot dropped (ngx_http_validate_host). Null when it is not a valid
 * host (the caller answers 400).
 */
export function normalizeHost(raw: string): string | null {
  let h = raw.trim().toLowerCase();
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    if (close < 0) return null;
    const rest = h.slice(close + 1);
    if (rest !== "" && !/^:\d*$/.test(rest)) return null;
    return h.slice(0, close + 1);
  }
  const colon = h.indexOf(":");
  if (colon >= 0) {
    if (!/^\d*$/.test(h.slice(colon + 1))) return null;
    h = h.slice(0, colon);
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (h.includes("..") || h.includes("/") || h.includes("\\") || h.startsWith(".")) return null;
  // No control characters, spaces or DEL (RFC 9110 §4.2.3 reg-name has none).
  for (let i = 0; i < h.length; i++)
    if (h.charCodeAt(i) <= 0x20 || h.charCodeAt(i) === 0x7f) return null;
  return h;
}

export interface ServerChoice {
  readonly server: Server;
  /** Captures of a regex server name (for `$1` and named captures), else empty. */
  readonly captures: Captures;
}

/**
 * Choose the virtual server for a request that arrived on `group`'s socket.
 * `host` is the normalized Host ("" when the request had none).
 *
 * @example
 *   selectServer(config.listenGroups[0], normalizeHost(req.header("host") ?? "") ?? "")
 */
export function selectServer(group: ListenGroup, host: string): ServerChoice {
  const h = host.toLowerCase();
  for (const s of group.servers)
    for (const n of s.serverNames)
      if (n.kind === "exact" && n.name === h) return { server: s, captures: NO_CAPTURES };
  let best: { server: Server; len: number } | null = null;
  for (const s of group.servers) {
    for (const n of s.serverNames) {
      if (
        n.kind === "leading" &&
        h.endsWith(n.suffix) &&
        h.length > n.suffix.length &&
        (best === null || n.suffix.length > best.len)
      ) {
        best = { server: s, len: n.suffix.length };
      }
    }
  }
  if (best) return { server: best.server, captures: NO_CAPTURES };
  for (const s of group.servers) {
    for (const n of s.serverNames) {
      if (
        n.kind === "trailing" &&
        h.startsWith(n.prefix) &&
        h.length > n.prefix.length &&
        (best === null || n.prefix.length > best.len)
      ) {
        best = { server: s, len: n.prefix.length };
      }
    }
  }
  if (best) return { server: best.server, captures: NO_CAPTURES };
  if (h !== "") {
    for (const s of group.servers) {
      for (const n of s.serverNames) {
        if (n.kind !== "regex") continue;
        const m = execRegex(n.regex, h);
        if (m) return { server: s, captures: m };
      }
    }
  }
  return { server: group.defaultServer, captures: NO_CAPTURES };
}

/**
 * The listen group for a connection accepted on localAddress:localPort (or a unix
 * socket path): the group for that exact address if one is configured, else the
 * wildcard group of the port, as nginx does with one wildcard socket.
 */
export function findListenGroup(
  groups: readonly ListenGroup[],
  localAddress: string,
  localPort: number | null,
  unixPath: string | null = null,
): ListenGroup | null {
  if (unixPath !== null) return groups.find((g) => g.key === `unix:${unixPath}`) ?? null;
  const v6 = localAddress.includes(":");
  const addr = localAddress.startsWith("::ffff:") ? localAddress.slice(7) : localAddress;
  const exact = groups.find(
    (g) => g.key === (addr.includes(":") ? `[${addr}]:${localPort}` : `${addr}:${localPort}`),
  );
  if (exact) return exact;
  // The wildcard of the connection's family first; then the other one (a `[::]` socket
  // with ipv6only=off also accepts IPv4 clients, seen as ::ffff:a.b.c.d).
  const native = v6 && !localAddress.startsWith("::ffff:");
  const wild =
    groups.find((g) => g.key === (native ? `[::]:${localPort}` : `0.0.0.0:${localPort}`)) ??
    groups.find((g) => g.key === (native ? `0.0.0.0:${localPort}` : `[::]:${localPort}`));
  return (
    wild ??
    groups.find(
      (g) =>
        g.listen.port === localPort &&
        g.listen.host !== null &&
        !/^[\d.:[\]]+$/.test(g.listen.host),
    ) ??
    null
  );
}
