/**
 * An upstream group: its peers (primary and backup tiers), its balancing policy and the
 * per-request selection that walks the group across retries the way nginx's
 * ngx_http_upstream_get_round_robin_peer does: backups only once every primary is
 * unusable; when everything is unusable the failure counters are reset ("mark them as
 * live for quick recovery") and the request gets 502.
 */
import { Peer } from "./peer.js";
import {
  buildChashRing,
  ipHashBytes,
  pickChash,
  pickHash,
  pickIpHash,
  pickLeastConn,
  pickRandom,
  pickRoundRobin,
  type ChashPoint,
  type HashState,
} from "./balance.js";
import type { UpstreamSpec, VarGetter } from "./types.js";

export interface GroupClock {
  /** Milliseconds; Date.now by default. */
  now?: () => number;
  /** [0, 1); Math.random by default. */
  random?: () => number;
  /** Called when a failure takes a peer out of rotation (nginx logs a warning). */
  onDisabled?: (peer: Peer, group: UpstreamGroup) => void;
}

export class UpstreamGroup {
  readonly name: string;
  readonly spec: UpstreamSpec;
  readonly primary: readonly Peer[];
  readonly backup: readonly Peer[];
  /** nginx `peers->single`: one server, no backup — never marked failed, never retried. */
  readonly single: boolean;
  readonly ring: readonly ChashPoint[];
  readonly now: () => number;
  readonly random: () => number;
  readonly onDisabled: ((peer: Peer, group: UpstreamGroup) => void) | null;

  constructor(spec: UpstreamSpec, clock: GroupClock = {}) {
    this.name = spec.name;
    this.spec = spec;
    const prim = spec.servers.filter((s) => !s.backup);
    const back = spec.servers.filter((s) => s.backup);
    this.primary = prim.map((s, i) => new Peer(s, i));
    this.backup = back.map((s, i) => new Peer(s, i));
    this.single = this.primary.length === 1 && this.backup.length === 0;
    const b = spec.balance;
    this.ring = typeof b === "object" && b.consistent ? buildChashRing(this.primary) : [];
    this.now = clock.now ?? Date.now;
    this.random = clock.random ?? Math.random;
    this.onDisabled = clock.onDisabled ?? null;
  }

  /** Start choosing peers for one request. */
  begin(clientAddress: string, vars: VarGetter): Selection {
    return new Selection(this, clientAddress, vars);
  }
}

export type ReleaseState = "ok" | "failed" | "next";

/** nginx's per-request peer data (rrp / iphp / hp): tried set, tries left, hash cursor. */
export class Selection {
  /** Tries left (nginx `pc->tries`): every server once, primaries then backups. */
  tries: number;
  private tier: "primary" | "backup" = "primary";
  private readonly tried = new Set<Peer>();
  private readonly hs: HashState & { started: boolean } = {
    hash: 89,
    rehash: 0,
    tries: 0,
    started: false,
  };
  private readonly key: string | null;
  private readonly ipBytes: number[];

  constructor(
    private readonly group: UpstreamGroup,
    clientAddress: string,
    vars: VarGetter,
  ) {
    this.tries = group.primary.length + group.backup.length;
    const b = group.spec.balance;
    this.key = typeof b === "object" ? b.hash(vars) : null;
    this.ipBytes = b === "ip_hash" ? ipHashBytes(clientAddress) : [];
    if (typeof b === "object") this.hs.hash = 0;
  }

  /** The next peer to try, or null when none is usable ("no live upstreams"). */
  next(): Peer | null {
    const g = this.group;
    const now = g.now();
    const peers = this.tier === "primary" ? g.primary : g.backup;
    let p: Peer | null;
    if (g.single) {
      const only = g.primary[0]!;
      p = this.tried.has(only) || only.down || only.atMaxConns() ? null : only;
    } else {
      p = this.pick(peers, now);
    }
    if (p !== null) {
      p.picked(now);
      this.tried.add(p);
      return p;
    }
    if (this.tier === "primary" && g.backup.length > 0) {
      this.tier = "backup";
      const q = this.next();
      if (q !== null) return q;
    }
    // All peers failed: mark them live for quick recovery (nginx), answer 502 now.
    for (const peer of peers) peer.fails = 0;
    return null;
  }

  private pick(peers: readonly Peer[], now: number): Peer | null {
    const b = this.group.spec.balance;
    if (this.tier === "backup") {
      return b === "least_conn"
        ? pickLeastConn(peers, now, this.tried)
        : pickRoundRobin(peers, now, this.tried);
    }
    if (b === "round_robin") return pickRoundRobin(peers, now, this.tried);
    if (b === "least_conn") return pickLeastConn(peers, now, this.tried);
    if (b === "ip_hash") return pickIpHash(peers, this.ipBytes, this.hs, now, this.tried);
    if (b === "random") return pickRandom(peers, this.hs, now, this.tried, this.group.random);
    if (b.consistent)
      return pickChash(peers, this.group.ring, this.key ?? "", this.hs, now, this.tried);
    return pickHash(peers, this.key ?? "", this.hs, now, this.tried);
  }

  /** Take `peer` again after releasing it (a retry that is not charged as a try). */
  again(peer: Peer): void {
    peer.picked(this.group.now());
    this.tries++;
  }

  /**
   * The try on `peer` ended. "failed" counts toward max_fails (error, timeout, invalid
   * header, and http_5xx listed in proxy_next_upstream); "next" (http_403/404/429) moves
   * on without blaming the peer. Returns true when the failure left the peer out of
   * rotation (nginx then warns "upstream server temporarily disabled").
   */
  release(peer: Peer, state: ReleaseState): boolean {
    const g = this.group;
    if (g.single) {
      if (peer.conns > 0) peer.conns--;
      this.tries = 0;
      return false;
    }
    peer.release(g.now(), state === "failed");
    const disabled = state === "failed" && peer.disabled();
    if (disabled && g.onDisabled !== null) g.onDisabled(peer, g);
    if (this.tries > 0) this.tries--;
    return disabled;
  }
}
