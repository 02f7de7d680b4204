/**
 * Upstream peers and their passive health, as nginx's ngx_http_upstream_round_robin.c
 * keeps them: `fails` counted within `fail_timeout`, the peer skipped once
 * `fails >= max_fails` until `fail_timeout` has passed since the last check, then given
 * one request; success then clears `fails`. `effective_weight` drops on failure and
 * climbs back one step per selection, so a recovering peer is eased in.
 */
import type { UpstreamServerSpec } from "./types.js";

export class Peer {
  readonly address: string;
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  readonly maxConns: number;
  readonly down: boolean;
  readonly backup: boolean;
  /** Index within its tier (primary or backup), for the `tried` set. */
  readonly index: number;

  currentWeight = 0;
  effectiveWeight: number;
  /** Requests currently in flight to this peer. */
  conns = 0;
  fails = 0;
  /** Time of the last failure. */
  accessed = 0;
  /** Time the failure window was last (re)started. */
  checked = 0;

  constructor(spec: UpstreamServerSpec, index: number) {
    this.address = spec.address;
    this.weight = spec.weight;
    this.maxFails = spec.maxFails;
    this.failTimeout = spec.failTimeout;
    this.maxConns = spec.maxConns;
    this.down = spec.down;
    this.backup = spec.backup;
    this.index = index;
    this.effectiveWeight = spec.weight;
  }

  /** nginx: `max_fails && fails >= max_fails && now - checked <= fail_timeout`. */
  failedAt(now: number): boolean {
    return (
      this.maxFails > 0 && this.fails >= this.maxFails && now - this.checked <= this.failTimeout
    );
  }

  atMaxConns(): boolean {
    return this.maxConns > 0 && this.conns >= this.maxConns;
  }

  /** Usable for a new try now (down, failed, max_conns and already-tried excluded). */
  usable(now: number, tried: ReadonlySet<Peer>): boolean {
    return !tried.has(this) && !this.down && !this.failedAt(now) && !this.atMaxConns();
  }

  /** Called when the peer is picked: opens a new failure window once the old one expired. */
  picked(now: number): void {
    if (now - this.checked > this.failTimeout) this.checked = now;
    this.conns++;
  }

  /** ngx_http_upstream_free_round_robin_peer for a multi-peer group. */
  release(now: number, failed: boolean): void {
    if (failed) {
      this.fails++;
      this.accessed = now;
      this.checked = now;
      if (this.maxFails > 0) {
        // Integer division as nginx: weight 1 / max_fails 3 lowers nothing.
        this.effectiveWeight -= Math.floor(this.weight / this.maxFails);
      }
      if (this.effectiveWeight < 0) this.effectiveWeight = 0;
    } else if (this.accessed < this.checked) {
      // A try after the failure window succeeded: the peer is live again.
      this.fails = 0;
    }
    if (this.conns > 0) this.conns--;
  }

  /**
   * After a failed release: the peer is out of rotation (for the warning log). nginx
   * checks `fails >= max_fails`, so a peer failing again after fail_timeout warns again.
   */
  disabled(): boolean {
    return this.maxFails > 0 && this.fails >= this.maxFails;
  }
}
