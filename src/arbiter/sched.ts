/**
 * The master's CPU scheduling policy: `--event-loop-sched` / `event_loop_sched`
 * (docs/architecture.md, "The master's scheduling policy").
 *
 * When the master feeds a pool of Python workers on the same CPUs, every wake-up of its
 * event loop (a reply from a worker, the next request from a client) preempts a worker in
 * the middle of the app under the default policy: on a saturated machine that is one or two
 * context switches per request, each leaving the worker's caches cold, and the loop wakes
 * once per request. Under SCHED_BATCH (Linux) a waking master does not preempt: it runs
 * when the running task's time slice ends or a CPU goes idle, and then handles every event
 * that arrived meanwhile in one pass. The workers never wait for it, since each holds
 * `pipeline` requests beyond its threads. With an idle CPU nothing changes at all.
 *
 * A proxy-only front gets no such benefit: its upstream (another server's workers) waits
 * for it, so `auto` keeps the default policy there.
 *
 * `auto` also steps back when the event loop itself is the bottleneck (busy most of the
 * wall clock, as with a trivial app at tens of thousands of requests a second): there,
 * waiting for the workers' slices only slows everything down. It looks every 500 ms.
 *
 * Node has no binding for sched_setscheduler(2): a small helper run by the workers'
 * interpreter (python/narwhal_worker/sched.py) sets the policy of the master's main thread
 * (the event loop; its thread id is the pid) whenever asked. Children forked meanwhile
 * inherit the policy, so workers are started with `--sched-other` and switch themselves
 * back, which needs no privilege.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { EventLoopSched } from "../config/setting-types.js";
import type { Logger } from "../core/log.js";
import { repoRoot } from "../core/paths.js";

/** Whether `mode` means SCHED_BATCH; `auto` does when this process hosts an app pool. */
export function wantsBatch(mode: EventLoopSched, hostsApps: boolean): boolean {
  return mode === "batch" || (mode === "auto" && hostsApps);
}

export type LoopPolicy = "batch" | "other";

// Event loop utilisation (busy share of the wall clock) above which the loop is taken to
// be the bottleneck, and below which the workers are; in between the policy stays.
const BUSY = 0.75;
const QUIET = 0.5;
const PERIOD_MS = 500;

/** The policy for the next period, given the event loop's utilisation over the last one. */
export function nextPolicy(current: LoopPolicy, utilization: number): LoopPolicy {
  if (utilization > BUSY) return "other";
  if (utilization < QUIET) return "batch";
  return current;
}

/**
 * The helper (python/narwhal_worker/sched.py) that sets the event loop thread's policy
 * whenever this process asks. It never keeps the process alive, and ends with it (EOF).
 */
export class EventLoopPolicy {
  private requested: LoopPolicy = "other";
  private ready = false;
  private warned = false;
  private timer: NodeJS.Timeout | null = null;
  private last: EventLoopUtilization = performance.eventLoopUtilization();

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: Logger,
    private readonly adaptive: boolean,
  ) {}

  /**
   * Start the helper with `python` for thread `pid` (default: this process's event loop):
   * SCHED_BATCH at once, then, when `adaptive`, whatever nextPolicy() says every 500 ms.
   * Never throws; trouble is logged as a warning and leaves the default policy.
   */
  static start(
    python: string,
    log: Logger,
    adaptive: boolean,
    pid: number = process.pid,
  ): EventLoopPolicy {
    const script = join(repoRoot(), "python", "narwhal_worker", "sched.py");
    const child = spawn(python, ["-I", "-S", script, String(pid)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: {},
    });
    const p = new EventLoopPolicy(child, log, adaptive);
    p.watch();
    return p;
  }

  /** Ask for `policy` now (a no-op when it is already the one asked for). */
  set(policy: LoopPolicy): void {
    if (!this.ready || policy === this.requested) return;
    this.requested = policy;
    this.child.stdin?.write(`${policy}\n`);
  }

  /** Back to the default policy, and the helper exits. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.set("other");
    this.ready = false;
    this.child.stdin?.end();
  }

  private watch(): void {
    const { child } = this;
    let err = "";
    let out = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf("\n")) >= 0) {
        this.onLine(out.slice(0, nl));
        out = out.slice(nl + 1);
      }
    });
    child.on("error", (e) => {
      this.warn(e.message);
    });
    child.on("exit", (code, signal) => {
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      this.ready = false;
      // Also before "ready": an interpreter that cannot run the helper at all. Killed by a
      // signal: someone else's doing (it ignores the group's), not a failure of ours.
      if (code !== null && code !== 0) this.warn(err.trim().split("\n").pop() || `exit ${code}`);
      else if (signal !== null) this.log.debug(`the scheduling helper was killed (${signal})`);
    });
    // Never what keeps this process running.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr])
      (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private onLine(line: string): void {
    if (line === "ready") {
      this.ready = true;
      this.set("batch");
      if (this.adaptive) {
        this.timer = setInterval(() => {
          this.tick();
        }, PERIOD_MS);
        this.timer.unref();
      }
    } else if (line === "batch" || line === "other") {
      this.log.debug(`event loop scheduling policy: SCHED_${line.toUpperCase()}`);
    } else if (line === "kept" || line === "unsupported") {
      this.log.debug(`event loop scheduling policy left as it was (${line})`);
    } else {
      this.warn(line.replace(/^error: /, ""));
    }
  }

  private tick(): void {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    this.set(nextPolicy(this.requested, u));
  }

  /** Once: the first reason is the one that matters. */
  private warn(why: string): void {
    if (this.warned) return;
    this.warned = true;
    this.log.warning(
      `could not set the event loop's scheduling policy (${why}); running with the default policy`,
    );
  }
}
