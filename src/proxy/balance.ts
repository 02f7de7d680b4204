/**
 * Peer selection policies, each a transcription of the nginx module that defines it so
 * that a mixed fleet (nginx and narwhal in front of the same hosts) spreads load alike:
 * - round robin: ngx_http_upstream_round_robin.c (smooth weighted round robin)
 * - least_conn: ngx_http_upstream_least_conn_module.c
 * - ip_hash: ngx_http_upstream_ip_hash_module.c (first three octets of IPv4)
 * - hash KEY [consistent]: ngx_http_upstream_hash_module.c (Cache::Memcached and
 *   ketama-style points, 160 per unit of weight)
 * - random: ngx_http_upstream_random_module.c (without `two`)
 * All are pure over the peer state; `now` and `random` are passed in.
 */
import { crc32 } from "node:zlib";
import { isIP } from "node:net";
import type { Peer } from "./peer.js";

/** Smooth weighted round robin over the usable peers (optionally filtered). */
export function pickRoundRobin(
  peers: readonly Peer[],
  now: number,
  tried: ReadonlySet<Peer>,
  filter?: (p: Peer) => boolean,
): Peer | null {
  let best: Peer | null = null;
  let total = 0;
  for (const p of peers) {
    if (!p.usable(now, tried)) continue;
    if (filter !== undefined && !filter(p)) continue;
    p.currentWeight += p.effectiveWeight;
    total += p.effectiveWeight;
    if (p.effectiveWeight < p.weight) p.effectiveWeight++;
    if (best === null || p.currentWeight > best.currentWeight) best = p;
  }
  if (best !== null) best.currentWeight -= total;
  return best;
}

/** Fewest in-flight requests relative to weight; ties broken by smooth round robin. */
export function pickLeastConn(
  peers: readonly Peer[],
  now: number,
  tried: ReadonlySet<Peer>,
): Peer | null {
  let best: Peer | null = null;
  let many = false;
  let start = 0;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i]!;
    if (!p.usable(now, tried)) continue;
    if (best === null || p.conns * best.weight < best.conns * p.weight) {
      best = p;
      many = false;
      start = i;
    } else if (p.conns * best.weight === best.conns * p.weight) {
      many = true;
    }
  }
  if (best === null || !many) return best;
  const ref = best;
  return pickRoundRobin(
    peers.slice(start),
    now,
    tried,
    (p) => p.conns * ref.weight === ref.conns * p.weight,
  );
}

/** Bytes nginx hashes for ip_hash: 3 octets of IPv4, all 16 of IPv6, none otherwise. */
export function ipHashBytes(address: string): number[] {
  let a = address;
  if (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) a = a.slice(7);
  if (isIP(a) === 4) return a.split(".").slice(0, 3).map(Number);
  if (isIP(a) === 6) return ipv6Bytes(a);
  return [];
}

function ipv6Bytes(a: string): number[] {
  let s = a;
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  // A trailing dotted quad becomes two groups.
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m !== null) {
    const [o1, o2, o3, o4] = [m[1], m[2], m[3], m[4]].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    s = s.slice(0, m.index) + ((o1 << 8) | o2).toString(16) + ":" + ((o3 << 8) | o4).toString(16);
  }
  const [head = "", tail] = s.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push((v >> 8) & 0xff, v & 0xff);
  }
  return out;
}

/** Walk the weight ranges as nginx does: `while (w >= peer->weight) w -= weight`. */
function peerAtWeight(peers: readonly Peer[], w: number): Peer {
  let rest = w;
  for (const p of peers) {
    if (rest < p.weight) return p;
    rest -= p.weight;
  }
  return peers[peers.length - 1]!;
}

export function totalWeight(peers: readonly Peer[]): number {
  let w = 0;
  for (const p of peers) w += p.weight;
  return w;
}

/** Per-request state of the hashing policies (nginx's iphp/hp). */
export interface HashState {
  hash: number;
  rehash: number;
  tries: number;
}

/** ip_hash: 20 collisions with unusable peers fall back to round robin, as nginx. */
export function pickIpHash(
  peers: readonly Peer[],
  bytes: readonly number[],
  st: HashState,
  now: number,
  tried: ReadonlySet<Peer>,
): Peer | null {
  if (st.tries > 20 || peers.length < 2 || bytes.length === 0)
    return pickRoundRobin(peers, now, tried);
  const total = totalWeight(peers);
  let hash = st.hash;
  for (;;) {
    for (const b of bytes) hash = (hash * 113 + b) % 6271;
    const p = peerAtWeight(peers, hash % total);
    if (p.usable(now, tried)) {
      st.hash = hash;
      st.tries++;
      return p;
    }
    if (++st.tries > 20) return pickRoundRobin(peers, now, tried);
  }
}

/** hash KEY (not consistent): `((crc32([REHASH] KEY) >> 16) & 0x7fff) + PREV_HASH`. */
export function pickHash(
  peers: readonly Peer[],
  key: string,
  st: HashState,
  now: number,
  tried: ReadonlySet<Peer>,
): Peer | null {
  if (st.tries > 20 || peers.length < 2 || key === "") return pickRoundRobin(peers, now, tried);
  const total = totalWeight(peers);
  const keyBuf = Buffer.from(key, "latin1");
  for (;;) {
    const input = st.rehash > 0 ? Buffer.concat([Buffer.from(String(st.rehash)), keyBuf]) : keyBuf;
    const h = (crc32(input) >>> 16) & 0x7fff;
    st.hash += h;
    st.rehash++;
    const p = peerAtWeight(peers, st.hash % total);
    if (p.usable(now, tried)) return p;
    if (++st.tries > 20) return pickRoundRobin(peers, now, tried);
  }
}

/** One point on the consistent-hash ring. */
export interface ChashPoint {
  readonly hash: number;
  readonly server: string;
}

/**
 * The ring nginx builds (ngx_http_upstream_update_chash): per server 160 × weight points,
 * `crc32(HOST \0 PORT PREV_HASH)` with PREV_HASH the previous point as 4 little-endian
 * bytes (compatible with Cache::Memcached::Fast), sorted, duplicates dropped.
 */
export function buildChashRing(peers: readonly Peer[]): ChashPoint[] {
  const points: ChashPoint[] = [];
  for (const p of peers) {
    const server = p.address;
    let host: string;
    let port = "";
    if (server.length >= 5 && server.slice(0, 5).toLowerCase() === "unix:") {
      host = server.slice(5);
    } else {
      const m = /:(\d*)$/.exec(server);
      if (m !== null) {
        host = server.slice(0, m.index);
        port = m[1]!;
      } else host = server;
    }
    const base = crc32(
      Buffer.concat([Buffer.from(host, "latin1"), Buffer.from([0]), Buffer.from(port, "latin1")]),
    );
    const prev = Buffer.alloc(4);
    const n = p.weight * 160;
    for (let j = 0; j < n; j++) {
      const h = crc32(prev, base);
      points.push({ hash: h, server });
      prev.writeUInt32LE(h, 0);
    }
  }
  points.sort((a, b) => a.hash - b.hash);
  const out: ChashPoint[] = [];
  for (const pt of points)
    if (out.length === 0 || out[out.length - 1]!.hash !== pt.hash) out.push(pt);
  return out;
}

/** Index of the first point whose hash is >= `hash` (may equal ring length: wraps). */
export function findChashPoint(ring: readonly ChashPoint[], hash: number): number {
  let lo = 0;
  let hi = ring.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hash > ring[mid]!.hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** hash KEY consistent: walk the ring from the key's point to the next usable server. */
export function pickChash(
  peers: readonly Peer[],
  ring: readonly ChashPoint[],
  key: string,
  st: HashState & { started: boolean },
  now: number,
  tried: ReadonlySet<Peer>,
): Peer | null {
  if (st.tries > 20 || peers.length < 2 || key === "" || ring.length === 0) {
    return pickRoundRobin(peers, now, tried);
  }
  if (!st.started) {
    st.hash = findChashPoint(ring, crc32(Buffer.from(key, "latin1")));
    st.started = true;
  }
  for (;;) {
    const server = ring[st.hash % ring.length]!.server;
    const best = pickRoundRobin(peers, now, tried, (p) => p.address === server);
    if (best !== null) return best;
    st.hash++;
    if (++st.tries > 20) return pickRoundRobin(peers, now, tried);
  }
}

/** random: a weighted draw; 20 draws of unusable peers fall back to round robin. */
export function pickRandom(
  peers: readonly Peer[],
  st: HashState,
  now: number,
  tried: ReadonlySet<Peer>,
  random: () => number,
): Peer | null {
  if (peers.length < 2) return pickRoundRobin(peers, now, tried);
  const total = totalWeight(peers);
  for (;;) {
    const p = peerAtWeight(peers, Math.floor(random() * total));
    if (p.usable(now, tried)) return p;
    if (++st.tries > 20) return pickRoundRobin(peers, now, tried);
  }
}
