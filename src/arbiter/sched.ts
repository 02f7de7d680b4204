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
 * Node has no binding for sched_setscheduler(2): the interpreter the workers use sets it
 * once for the master's main thread (the event loop; its thread id is the pid). Children
 * forked afterwards inherit the policy, so workers are started with `--sched-other` and
 * switch themselves back, which needs no privilege.
 */
import { execFile } from "node:child_process";
import type { EventLoopSched } from "../config/setting-types.js";
import type { Logger } from "../core/log.js";

/** Whether `mode` means SCHED_BATCH; `auto` does when this process hosts an app pool. */
export function wantsBatch(mode: EventLoopSched, hostsApps: boolean): boolean {
  return mode === "batch" || (mode === "auto" && hostsApps);
}

// Run by `python -I -S -c`: stdlib only, no site-packages, nothing from the environment.
// A policy other than OTHER/BATCH (real-time, idle) was chosen by the operator: kept.
const SET_BATCH = `import os, sys
pid = int(sys.argv[1])
if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_BATCH"):
    print("unsupported")
elif os.sched_getscheduler(pid) not in (os.SCHED_OTHER, os.SCHED_BATCH):
    print("kept")
else:
    os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0))
    print("batch")
`;

export type BatchOutcome = "batch" | "kept" | "unsupported" | "failed";

/**
 * Put thread `pid` (default: this process's main thread, the event loop) under
 * SCHED_BATCH, using `python`. Never throws; the outcome is logged and returned.
 */
export function batchEventLoop(
  python: string,
  log: Logger,
  pid: number = process.pid,
): Promise<BatchOutcome> {
  return new Promise((resolve) => {
    execFile(
      python,
      ["-I", "-S", "-c", SET_BATCH, String(pid)],
      { timeout: 10_000, env: {} },
      (err, stdout, stderr) => {
        const out = stdout.trim();
        if (err === null && (out === "batch" || out === "kept" || out === "unsupported")) {
          if (out === "batch") log.debug("event loop scheduling policy: SCHED_BATCH");
          else log.debug(`event loop scheduling policy left as it was (${out})`);
          resolve(out);
          return;
        }
        const why = stderr.trim().split("\n").pop() ?? "";
        log.warning(
          `could not set the event loop's scheduling policy to SCHED_BATCH (${why || (err?.message ?? out)}); running with the default policy`,
        );
        resolve("failed");
      },
    );
  });
}
