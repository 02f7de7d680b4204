/**
 * `allow` / `deny` (ngx_http_access_module): rules in order, the first that matches the
 * client decides; no match allows. `unix:` matches clients of a unix-socket listener.
 * An IPv4 client on a dual-stack socket (::ffff:a.b.c.d) is matched as IPv4.
 */
import { BlockList, isIP } from "node:net";
import type { AccessRule } from "../config/nginx/index.js";
import type { ConnectionInfo } from "../http/types.js";

const compiled = new WeakMap<AccessRule, BlockList>();

function blockOf(r: AccessRule): BlockList {
  let b = compiled.get(r);
  if (b === undefined) {
    b = new BlockList();
    b.addSubnet(r.address, r.prefix, r.family === "IPv4" ? "ipv4" : "ipv6");
    compiled.set(r, b);
  }
  return b;
}

/** @example accessAllowed(loc.conf.access, req.connection, "10.0.0.7") // false → 403 */
export function accessAllowed(
  rules: readonly AccessRule[],
  conn: ConnectionInfo,
  remoteAddr: string,
): boolean {
  if (rules.length === 0) return true;
  const a =
    remoteAddr.startsWith("::ffff:") && isIP(remoteAddr.slice(7)) === 4
      ? remoteAddr.slice(7)
      : remoteAddr;
  const fam = isIP(a);
  for (const r of rules) {
    let hit: boolean;
    if (r.family === "all") hit = true;
    else if (r.family === "unix") hit = conn.family === "unix";
    else if (conn.family === "unix" || fam === 0) hit = false;
    else if ((r.family === "IPv4") !== (fam === 4)) hit = false;
    else hit = blockOf(r).check(a, fam === 4 ? "ipv4" : "ipv6");
    if (hit) return r.action === "allow";
  }
  return true;
}
