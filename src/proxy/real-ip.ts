/**
 * `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` (ngx_http_realip_module.c and
 * ngx_http_get_forwarded_addr): when the peer is a trusted proxy, take the client address
 * from a header. X-Forwarded-For is read right to left: without `recursive` the last
 * entry is the client; with it, trusted entries are skipped and the first untrusted one
 * (or the leftmost, if all are trusted) is the client. A malformed entry stops the walk.
 */
import { isIP } from "node:net";
import type { IncomingRequest } from "../http/types.js";

/** A parsed `set_real_ip_from` value: an IPv4/IPv6 network, or "unix:". */
export type Cidr =
  | { readonly family: 4 | 6; readonly bytes: Uint8Array; readonly prefix: number }
  | { readonly family: "unix" };

/** Parse "192.168.0.0/16", "10.0.0.1", "2001:db8::/32", "::1" or "unix:". */
export function parseCidr(text: string): Cidr {
  if (text === "unix:") return { family: "unix" };
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = addressBytes(addr);
  if (bytes === null) throw new Error(`invalid address "${text}"`);
  const family = bytes.length === 4 ? 4 : 6;
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new Error(`invalid mask in "${text}"`);
    prefix = Number(p);
  }
  // nginx warns about "low address bits ... are meaningless" and masks them off.
  const masked = applyMask(bytes, prefix);
  return { family, bytes: masked, prefix };
}

function applyMask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Network-order bytes of an IPv4 or IPv6 literal; IPv4-mapped IPv6 becomes IPv4. */
export function addressBytes(address: string): Uint8Array | null {
  let a = address;
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const fam = isIP(a);
  if (fam === 4) return Uint8Array.from(a.split(".").map(Number));
  if (fam !== 6) return null;
  const pct = a.indexOf("%");
  if (pct >= 0) a = a.slice(0, pct);
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  let tail4: number[] = [];
  if (m !== null) {
    tail4 = [m[1], m[2], m[3], m[4]].map(Number);
    a = a.slice(0, m.index) + "0:0";
  }
  const [head = "", rest] = a.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups =
    rest === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = (v >> 8) & 0xff;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail4.length === 4) out.set(tail4, 12);
  // ::ffff:a.b.c.d is the IPv4 client of a dual-stack socket.
  if (out.slice(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff)
    return out.slice(12);
  return out;
}

/** Whether `address` ("" or "unix:..." for unix sockets) falls in any of `nets`. */
export function cidrMatch(address: string, nets: readonly Cidr[]): boolean {
  if (address === "" || address.startsWith("unix:")) return nets.some((n) => n.family === "unix");
  const bytes = addressBytes(address);
  if (bytes === null) return false;
  for (const n of nets) {
    if (n.family === "unix" || n.bytes.length !== bytes.length) continue;
    const masked = applyMask(bytes, n.prefix);
    if (masked.every((b, i) => b === n.bytes[i])) return true;
  }
  return false;
}

/** An address entry of X-Forwarded-For/X-Real-IP: "ip", "ip:port" or "[ipv6]:port". */
export function parseForwardedEntry(entry: string): string | null {
  const s = entry.trim();
  if (isIP(s) !== 0) return s;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    const inner = s.slice(1, end);
    const after = s.slice(end + 1);
    if (isIP(inner) !== 6 || (after !== "" && !/^:\d{1,5}$/.test(after))) return null;
    return inner;
  }
  const m = /^([\d.]+):\d{1,5}$/.exec(s);
  if (m !== null && isIP(m[1]!) === 4) return m[1]!;
  return null;
}

export interface RealIpOptions {
  readonly from: readonly Cidr[];
  /** Header name (nginx default "X-Real-IP"); "X-Forwarded-For" gets the list walk. */
  readonly header: string;
  readonly recursive: boolean;
}

/**
 * The client address for `$remote_addr`. `headerValues` are all values of the header in
 * order (several X-Forwarded-For lines are one comma list, RFC 9110 §5.3).
 */
export function realIp(
  opts: RealIpOptions,
  peerAddress: string,
  headerValues: readonly string[],
): string {
  if (opts.from.length === 0 || headerValues.length === 0) return peerAddress;
  if (!cidrMatch(peerAddress, opts.from)) return peerAddress;
  const isXff = opts.header.toLowerCase() === "x-forwarded-for";
  if (!isXff) {
    const one = parseForwardedEntry(headerValues[0]!);
    return one ?? peerAddress;
  }
  const entries = headerValues
    .join(",")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  let addr = peerAddress;
  for (let i = entries.length - 1; i >= 0; i--) {
    // Only a trusted hop may tell us who came before it.
    if (!cidrMatch(addr, opts.from)) return addr;
    const next = parseForwardedEntry(entries[i]!);
    if (next === null) return addr;
    addr = next;
    if (!opts.recursive) return addr;
  }
  return addr;
}

/** realIp() for a request: its peer address and every value of the configured header. */
export function realIpOf(opts: RealIpOptions, req: IncomingRequest): string {
  const peer = req.connection.family === "unix" ? "unix:" : req.connection.remoteAddress;
  const name = opts.header.toLowerCase();
  const values: string[] = [];
  for (const [n, v] of req.headers) if (n.toLowerCase() === name) values.push(v);
  const out = realIp(opts, peer, values);
  return out === "unix:" ? req.connection.remoteAddress : out;
}
