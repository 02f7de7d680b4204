/**
 * One measured load on a running server: wrk for `seconds`, with the CPU time of the
 * server's whole process tree over exactly that window (µs per request) and the tree's
 * memory right after it.
 *
 *   const m = measure(server, { path: "/", conns: 64, seconds: 8 });
 */
import { cpuSnapshot, cpuUsSince, treeMemory } from "./proctree.js";
import type { RunningServer } from "./server.js";
import { runWrk, type WrkResult } from "./wrk.js";

export interface LoadOptions {
  readonly path?: string;
  readonly conns: number;
  readonly seconds: number;
  /** Seconds of unmeasured load first (JIT, caches, connection setup); 0 skips it. */
  readonly warmupSeconds?: number;
  /** Port to load when it differs from the tree's own (a front in front of it). */
  readonly port?: number;
  /** Extra process trees whose CPU and memory count with this one (the upstream of a proxy). */
  readonly alsoCount?: readonly RunningServer[];
}

export interface Measurement {
  readonly wrk: WrkResult;
  readonly cpuUsPerReq: number;
  /** Share of one core the tree used on average (1.0 = one core busy). */
  readonly cores: number;
  readonly rssKb: number;
  readonly pssKb: number;
  readonly processes: number;
}

export function measure(server: RunningServer, o: LoadOptions): Measurement {
  const url = `http://127.0.0.1:${o.port ?? server.spec.port}${o.path ?? "/"}`;
  const trees = (): number[] => [server, ...(o.alsoCount ?? [])].flatMap((s) => s.pids());
  if ((o.warmupSeconds ?? 0) > 0) runWrk({ url, conns: o.conns, seconds: o.warmupSeconds ?? 0 });
  const pids = trees();
  const before = cpuSnapshot(pids);
  const t0 = process.hrtime.bigint();
  const w = runWrk({ url, conns: o.conns, seconds: o.seconds });
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const after = trees();
  const us = cpuUsSince(before, after);
  const mem = treeMemory(after);
  return {
    wrk: w,
    cpuUsPerReq: w.requests > 0 ? us / w.requests : NaN,
    cores: us / wallUs,
    rssKb: mem.rssKb,
    pssKb: mem.pssKb,
    processes: mem.processes,
  };
}
