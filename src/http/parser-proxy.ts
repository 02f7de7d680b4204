/**
 * PROXY protocol preamble (HAProxy's proxy-protocol.txt), v1 text and v2 binary, detected
 * at the start of a connection like Gunicorn's `proxy_protocol` (a connection without a
 * preamble is served as is).
 *
 *   v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF   (<= 107 octets)
 *   v2: \r\n\r\n\0\r\nQUIT\n  ver|cmd(1)  fam|proto(1)  len(2, BE)  addresses(len)
 */
import { isIPv4, isIPv6 } from "node:net";
import { HttpError } from "../core/errors.js";

export interface ProxyInfo {
  readonly protocol: "TCP4" | "TCP6" | "LOCAL" | "UNSPEC";
  readonly srcAddress: string | null;
  readonly srcPort: number | null;
  readonly dstAddress: string | null;
  readonly dstPort: number | null;
}

const V1 = Buffer.from("PROXY ", "latin1");
const V2 = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
const V1_MAX = 107;
const V2_MAX_LEN = 4096;

export type ProxyDetect =
  | { kind: "more" }
  | { kind: "none" }
  | { kind: "proxy"; info: ProxyInfo; consumed: number }
  | { kind: "found" }; // a preamble starts here: check the peer before parsing it

const bad = (m: string): HttpError => new HttpError("INVALID_PROXY_LINE", 400, m);

function prefixOf(sig: Buffer, buf: Buffer, start: number, end: number): "full" | "partial" | "no" {
  const n = Math.min(sig.length, end - start);
  for (let i = 0; i < n; i++) if (buf[start + i] !== sig[i]) return "no";
  return n === sig.length ? "full" : "partial";
}

/** Does a preamble start at `start`? "more" when the octets so far could still be one. */
export function detectPreamble(
  buf: Buffer,
  start: number,
  end: number,
): "more" | "none" | "v1" | "v2" {
  const a = prefixOf(V1, buf, start, end);
  if (a === "full") return "v1";
  const b = prefixOf(V2, buf, start, end);
  if (b === "full") return "v2";
  return a === "partial" || b === "partial" ? "more" : "none";
}

/** Parse a preamble already detected; null when more octets are needed. */
export function parsePreamble(
  kind: "v1" | "v2",
  buf: Buffer,
  start: number,
  end: number,
): { info: ProxyInfo; consumed: number } | null {
  return kind === "v1" ? parseV1(buf, start, end) : parseV2(buf, start, end);
}

function parseV1(
  buf: Buffer,
  start: number,
  end: number,
): { info: ProxyInfo; consumed: number } | null {
  const lf = buf.indexOf(0x0a, start);
  if (lf < 0 || lf >= end) {
    if (end - start >= V1_MAX) throw bad("PROXY line too long");
    return null;
  }
  if (lf + 1 - start > V1_MAX || buf[lf - 1] !== 0x0d) throw bad("invalid PROXY line");
  const line = buf.toString("latin1", start, lf - 1);
  const bits = line.split(" ");
  if (bits.length !== 6) throw bad("invalid PROXY line");
  const [, proto, src = "", dst = "", sp = "", dp = ""] = bits;
  if (proto === "TCP4") {
    if (!isIPv4(src) || !isIPv4(dst)) throw bad("invalid PROXY address");
  } else if (proto === "TCP6") {
    if (!isIPv6(src) || !isIPv6(dst)) throw bad("invalid PROXY address");
  } else throw bad("unsupported PROXY protocol");
  const port = (s: string): number => {
    if (!/^[0-9]{1,5}$/.test(s) || Number(s) > 65535) throw bad("invalid PROXY port");
    return Number(s);
  };
  return {
    info: {
      protocol: proto,
      srcAddress: src,
      srcPort: port(sp),
      dstAddress: dst,
      dstPort: port(dp),
    },
    consumed: lf + 1 - start,
  };
}

function parseV2(
  buf: Buffer,
  start: number,
  end: number,
): { info: ProxyInfo; consumed: number } | null {
  if (end - start < 16) return null;
  const verCmd = buf[start + 12]!;
  const famProto = buf[start + 13]!;
  const len = buf.readUInt16BE(start + 14);
  if (verCmd >> 4 !== 2) throw bad("unsupported PROXY v2 version");
  const cmd = verCmd & 0x0f;
  if (cmd > 1) throw bad("unsupported PROXY v2 command");
  if (len > V2_MAX_LEN) throw bad("PROXY v2 header too long");
  if (end - start < 16 + len) return null;
  const consumed = 16 + len;
  const none = { srcAddress: null, srcPort: null, dstAddress: null, dstPort: null };
  if (cmd === 0) return { info: { protocol: "LOCAL", ...none }, consumed };
  const family = famProto >> 4;
  if (family === 0) return { info: { protocol: "UNSPEC", ...none }, consumed };
  if ((famProto & 0x0f) !== 1) throw bad("PROXY v2: only TCP is supported");
  const a = start + 16;
  if (family === 1) {
    if (len < 12) throw bad("PROXY v2: short IPv4 addresses");
    const ip = (o: number): string => `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
    return {
      info: {
        protocol: "TCP4",
        srcAddress: ip(a),
        dstAddress: ip(a + 4),
        srcPort: buf.readUInt16BE(a + 8),
        dstPort: buf.readUInt16BE(a + 10),
      },
      consumed,
    };
  }
  if (family === 2) {
    if (len < 36) throw bad("PROXY v2: short IPv6 addresses");
    return {
      info: {
        protocol: "TCP6",
        srcAddress: ipv6(buf, a),
        dstAddress: ipv6(buf, a + 16),
        srcPort: buf.readUInt16BE(a + 32),
        dstPort: buf.readUInt16BE(a + 34),
      },
      consumed,
    };
  }
  throw bad("PROXY v2: unsupported address family");
}

/** RFC 5952 text form (lower case, longest zero run compressed). */
function ipv6(buf: Buffer, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(o + i * 2));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}
