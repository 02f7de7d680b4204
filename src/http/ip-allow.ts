/**
 * Address allow lists as Gunicorn spells them (`forwarded_allow_ips`, `proxy_allow_ips`):
 * comma-separated addresses or CIDR networks, `*` for everyone.
 */
import { BlockList, isIP } from "node:net";
import { ConfigError } from "../core/errors.js";

export type IpMatcher = (address: string) => boolean;

/**
 * @example ipMatcher("127.0.0.1,::1,10.0.0.0/8")("10.1.2.3") === true
 */
export function ipMatcher(spec: string): IpMatcher {
  const items = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.includes("*")) return () => true;
  const list = new BlockList();
  for (const item of items) {
    const [addr = "", bits] = item.split("/");
    const fam = isIP(addr);
    if (fam === 0) throw new ConfigError(`invalid address in allow list: ${JSON.stringify(item)}`);
    const type = fam === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const n = Number(bits);
      if (!Number.isInteger(n) || n < 0 || n > (fam === 4 ? 32 : 128)) {
        throw new ConfigError(`invalid network in allow list: ${JSON.stringify(item)}`);
      }
      list.addSubnet(addr, n, type);
    }
  }
  return (address: string): boolean => {
    // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    const a =
      address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const fam = isIP(a);
    if (fam === 0) return false;
    return list.check(a, fam === 4 ? "ipv4" : "ipv6");
  };
}
