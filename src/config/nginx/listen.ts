/**
 * `listen` (ngx_http_core_listen): address forms and parameters.
 *
 *   listen 8080;  listen 127.0.0.1;  listen 127.0.0.1:8080;  listen *:80;
 *   listen [::]:80 ipv6only=on;  listen localhost:8000;  listen unix:/run/x.sock;
 *   ... default_server backlog=N bind reuseport deferred ipv6only=on|off
 */
import { isIP } from "node:net";
import type { ApplyContext } from "./directive-types.js";
import type { Listen } from "./model.js";

export const DEFAULT_PORT = 80;

interface Address {
  host: string | null;
  port: number | null;
  unix: string | null;
}

function parsePort(c: ApplyContext, text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535)
    c.fail(`invalid port in "${whole}" of the "listen" directive`);
  return n;
}

function parseAddress(c: ApplyContext, a: string): Address {
  if (a.startsWith("unix:")) {
    if (a.length === 5) c.fail(`no path in the unix domain socket "${a}"`);
    return { host: null, port: null, unix: a.slice(5) };
  }
  if (/^\d+$/.test(a)) return { host: "0.0.0.0", port: parsePort(c, a, a), unix: null };
  if (a.startsWith("[")) {
    const close = a.indexOf("]");
    const host = close < 0 ? "" : a.slice(1, close);
    if (close < 0 || isIP(host) !== 6)
      c.fail(`invalid IPv6 address in "${a}" of the "listen" directive`);
    const rest = a.slice(close + 1);
    if (rest === "") return { host, port: DEFAULT_PORT, unix: null };
    if (!rest.startsWith(":")) c.fail(`invalid host in "${a}" of the "listen" directive`);
    return { host, port: parsePort(c, rest.slice(1), a), unix: null };
  }
  const colon = a.lastIndexOf(":");
  let host = colon < 0 ? a : a.slice(0, colon);
  const port = colon < 0 ? DEFAULT_PORT : parsePort(c, a.slice(colon + 1), a);
  if (host === "*") host = "0.0.0.0";
  if (host === "" || !/^[A-Za-z0-9.-]+$/.test(host))
    c.fail(`invalid host in "${a}" of the "listen" directive`);
  return { host: host.toLowerCase(), port, unix: null };
}

/** The socket identity servers are grouped by. */
export function listenKey(a: {
  host: string | null;
  port: number | null;
  unix: string | null;
}): string {
  if (a.unix !== null) return `unix:${a.unix}`;
  return isIP(a.host ?? "") === 6
    ? `[${a.host!}]:${a.port ?? DEFAULT_PORT}`
    : `${a.host ?? "0.0.0.0"}:${a.port ?? DEFAULT_PORT}`;
}

export function parseListen(c: ApplyContext): readonly Listen[] {
  const addr = parseAddress(c, c.args[0]!);
  let defaultServer = false;
  let backlog: number | null = null;
  let ipv6only = true;
  let reuseport = false;
  for (const p of c.args.slice(1)) {
    if (p === "default_server" || p === "default") defaultServer = true;
    else if (p.startsWith("backlog=")) {
      const v = p.slice(8);
      if (!/^-?\d+$/.test(v) || Number(v) === 0) c.fail(`invalid backlog "${v}"`);
      backlog = Number(v);
    } else if (p === "ipv6only=on" || p === "ipv6only=off") {
      if (addr.host === null || isIP(addr.host) !== 6)
        c.fail(`ipv6only is not supported on addresses "${c.args[0]!}", ignored`);
      ipv6only = p === "ipv6only=on";
    } else if (p === "reuseport") reuseport = true;
    else if (p === "bind" || p === "deferred" || /^(rcvbuf|sndbuf)=\d+[kKmM]?$/.test(p)) {
      // Accepted: narwhal binds every listen address separately; buffer sizes are the kernel's.
    } else c.fail(`invalid parameter "${p}"`);
  }
  return [
    {
      key: listenKey(addr),
      ...addr,
      defaultServer,
      backlog,
      ipv6only,
      reuseport,
      file: c.file,
      line: c.line,
    },
  ];
}
