/**
 * A server's whole process tree, read from /proc: the pids (the root and every
 * descendant), their CPU time (utime + stime, /proc/PID/stat fields 14 and 15) and their
 * memory (Rss and Pss from /proc/PID/smaps_rollup, summed over the tree).
 *
 *   const before = cpuSnapshot(treePids(pid));
 *   ...load...
 *   const us = cpuUsSince(before, treePids(pid)); // µs of CPU the tree used meanwhile
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** Fields after the ")" that ends comm (a comm may contain spaces and parentheses). */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null; // exited
  }
}

/** pid → parent pid, for every live process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f !== null) out.set(Number(d), Number(f[1]));
  }
  return out;
}

/** The root and all its live descendants (breadth first). */
export function treePids(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) {
    const l = kids.get(ppid);
    if (l === undefined) kids.set(ppid, [pid]);
    else l.push(pid);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift()!;
    if (statFields(p) === null) continue;
    out.push(p);
    queue.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** CPU time (utime + stime) per pid, in clock ticks. */
export type CpuSnapshot = ReadonlyMap<number, number>;

export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  const m = new Map<number, number>();
  for (const p of pids) {
    const f = statFields(p);
    if (f !== null) m.set(p, Number(f[11]) + Number(f[12]));
  }
  return m;
}

/**
 * µs of CPU used by `pids` since `before`: a pid that is new counts from zero. A process
 * that exited in between is lost (its time went to its parent's cutime only when reaped);
 * the benchmarks keep their pools stable, so this does not arise there.
 */
export function cpuUsSince(before: CpuSnapshot, pids: readonly number[]): number {
  let ticks = 0;
  for (const [p, t] of cpuSnapshot(pids)) ticks += t - (before.get(p) ?? 0);
  return (ticks / CLK_TCK) * 1e6;
}

export interface TreeMemory {
  readonly processes: number;
  /** Sum of Rss (pages shared between the processes are counted once per process). */
  readonly rssKb: number;
  /** Sum of Pss (shared pages divided among their sharers): the tree's real footprint. */
  readonly pssKb: number;
  /** Per process, root first. */
  readonly each: readonly { pid: number; rssKb: number; pssKb: number; comm: string }[];
}

export function treeMemory(pids: readonly number[]): TreeMemory {
  const each: { pid: number; rssKb: number; pssKb: number; comm: string }[] = [];
  for (const pid of pids) {
    try {
      const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const rss = Number(/^Rss:\s+(\d+) kB/m.exec(t)?.[1] ?? 0);
      const pss = Number(/^Pss:\s+(\d+) kB/m.exec(t)?.[1] ?? 0);
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      each.push({ pid, rssKb: rss, pssKb: pss, comm });
    } catch {
      // exited, or a kernel thread without smaps
    }
  }
  return {
    processes: each.length,
    rssKb: each.reduce((a, e) => a + e.rssKb, 0),
    pssKb: each.reduce((a, e) => a + e.pssKb, 0),
    each,
  };
}

/** 1-, 5- and 15-minute load averages. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** The parent pid, or null once the process is gone. */
export function ppidOf(pid: number): number | null {
  const f = statFields(pid);
  return f === null ? null : Number(f[1]);
}

/** The processes of `pids` that have no child among `pids`: a pool's workers. */
export function leaves(pids: readonly number[]): number[] {
  const parentsInTree = new Set(pids.map(ppidOf).filter((p): p is number => p !== null));
  return pids.filter((p) => !parentsInTree.has(p));
}
