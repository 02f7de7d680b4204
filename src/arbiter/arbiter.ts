/**
 * The arbiter: owns the pool of Python workers and hands requests to them.
 *
 * Supervision follows Gunicorn's arbiter (gunicorn/arbiter.py) with one rule kept
 * strictly: everything that changes the pool — a worker exiting, a boot error, a stop
 * or resize request from a signal handler — only *enqueues* an event; one loop
 * (`run()`) takes the events in order and converges the pool to its target size. A
 * worker that fails to import the app stops the whole server (no respawn loop, Gunicorn's
 * APP_LOAD_ERROR); a worker that dies after boot is replaced, with a back-off when it
 * keeps dying.
 *
 * Dispatch is per request, never per connection: the ready worker with the fewest
 * requests in flight and a free thread gets it; otherwise the request waits in a
 * bounded FIFO queue (503 + Retry-After when full). Time spent queued is measured.
 */
import { NarwhalError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { ErrorReport } from "../protocol/index.js";
import { ForkPool } from "./zygote.js";
import { Worker, type RequestSink, type WorkerEvent, type WorkerSpec } from "./worker.js";

export interface ArbiterOptions {
  readonly spec: WorkerSpec;
  /** Target pool size (-w/--workers). */
  readonly workers: number;
  /** Requests allowed to wait for a free thread (--max-queue); 0 = none. */
  readonly maxQueue: number;
  readonly log: Logger;
  /** Where a worker's stdout/stderr lines go (the error log, unformatted, like Gunicorn). */
  readonly output: (line: string) => void;
  /** PING interval and how long a worker may leave PINGs unanswered before it is killed. */
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** How long a worker may take to import the app before startup fails. */
  readonly bootTimeoutMs?: number;
  /**
   * Requests a worker may hold beyond its threads (default 8): they wait inside the
   * worker, so a thread that finishes takes the next one without a round trip to Node.
   * Under load the worker then answers several requests per read and Node sends several
   * REQUESTs per write (Worker.send coalesces), which halves the CPU per request on a
   * small app; only when every worker is saturated does a request wait behind others
   * inside one worker (pick() prefers the least loaded).
   */
  readonly pipeline?: number;
  /** --timeout: a request running longer gets 504 and its worker is replaced; 0 = none. */
  readonly timeoutMs?: number;
  /** --max-requests / --max-requests-jitter: recycle a worker after that many requests. */
  readonly maxRequests?: number;
  readonly maxRequestsJitter?: number;
  /** --preload: fork the workers from a zygote that imported the app once. */
  readonly preload?: boolean;
  /** A retired worker (reload, recycle, TTOU) is killed if still busy after this long. */
  readonly gracefulTimeoutMs?: number;
}

/** What a reload (HUP) may change: the worker command (fresh settings) and the pool size. */
export interface ReloadPlan {
  readonly spec?: WorkerSpec;
  readonly workers?: number;
}

/** One granted dispatch: the request `id` on `worker`, ready for its REQUEST frame. */
export interface Lease {
  readonly worker: Worker;
  readonly id: number;
  /** Milliseconds the request waited in the queue (0 when a thread was free at once). */
  readonly queuedMs: number;
  /** performance.now() when the lease was granted (the request's start on the worker). */
  readonly grantedAt: number;
  /** Write frames for this request (dropped if the worker has died). */
  send(data: Buffer | readonly Buffer[]): void;
}

/**
 * A request asking for a worker thread through request(): told the outcome by a call,
 * so a request that waits in the queue costs no promise, closure or AbortSignal.
 */
export interface PoolTicket {
  readonly sink: RequestSink;
  /** Set by the arbiter: performance.now() when the request asked. */
  askedAt: number;
  /** A thread is free: send the REQUEST now (called synchronously when one is free at once). */
  granted(lease: Lease): void;
  /** Queue full or pool stopping: answer 503. Not called after withdraw(). */
  refused(err: PoolUnavailable): void;
}

class Grant implements Lease {
  constructor(
    readonly worker: Worker,
    readonly id: number,
    readonly queuedMs: number,
    readonly grantedAt: number,
  ) {}
  send(data: Buffer | readonly Buffer[]): void {
    this.worker.send(data);
  }
}

/** The pool could not start or had to stop: the one-line reason, the traceback, an exit code. */
export class WorkerBootError extends NarwhalError {
  constructor(
    message: string,
    readonly traceback: string,
    readonly exitCode: number,
  ) {
    super("WORKER_BOOT", message, null);
    this.name = "WorkerBootError";
  }
}

/** Every worker thread busy and the queue full, or the pool stopping: answer 503. */
export class PoolUnavailable extends NarwhalError {
  constructor(message: string) {
    super("UPSTREAM", message, 503);
    this.name = "PoolUnavailable";
  }
}

type ArbiterEvent =
  | WorkerEvent
  | { readonly kind: "stop"; readonly graceful: boolean; readonly timeoutMs: number }
  | { readonly kind: "resize"; readonly delta: number }
  | { readonly kind: "reload"; readonly plan: ReloadPlan }
  | { readonly kind: "recycle"; readonly worker: Worker };

/** dispatch()'s promise, as a ticket in the queue. */
class PromiseTicket implements PoolTicket {
  askedAt = 0;
  settled = false;
  private readonly onAbort = (): void => {
    this.settled = true;
    this.pool.withdraw(this);
    const reason: unknown = this.signal?.reason;
    this.reject(reason instanceof Error ? reason : new Error("request abandoned while queued"));
  };
  constructor(
    readonly sink: RequestSink,
    private readonly pool: Arbiter,
    private readonly resolve: (lease: Lease) => void,
    private readonly reject: (err: Error) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}
  /** Queued: give up when the client leaves (at once if it already has). */
  watch(): void {
    if (this.signal?.aborted === true) this.onAbort();
    else this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }
  granted(lease: Lease): void {
    this.settled = true;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.resolve(lease);
  }
  refused(err: PoolUnavailable): void {
    this.settled = true;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.reject(err);
  }
}

type Phase = "idle" | "booting" | "running" | "stopping" | "stopped";

export class Arbiter {
  private phase: Phase = "idle";
  private target: number;
  private spec: WorkerSpec;
  /** The current generation; workers of an older one are retired once enough new ones are ready. */
  private gen = 0;
  /** While a reload is under way: what to go back to if the new code cannot boot. */
  private reloadFrom: { gen: number; spec: WorkerSpec; target: number } | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** --preload: the zygotes and the socket forked workers connect to. */
  private forks: ForkPool | null = null;
  private readonly workers = new Set<Worker>();
  /** The same workers as an array, for the per-request scan in pick(). */
  private list: Worker[] = [];
  private readonly queue: PoolTicket[] = [];
  private readonly events: ArbiterEvent[] = [];
  private scheduled = false;
  private serial = 0;
  private rr = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private bootTimer: NodeJS.Timeout | null = null;
  private stopTimer: NodeJS.Timeout | null = null;
  /** performance.now() of recent unexpected exits, for the respawn back-off. */
  private crashes: number[] = [];
  private respawnAt = 0;
  private respawnTimer: NodeJS.Timeout | null = null;
  private startWaiters: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private stopWaiters: Array<() => void> = [];
  /** Set when the pool stopped because a worker could not load the app. */
  fatal: WorkerBootError | null = null;
  /** Called once if the pool dies after startup (a replacement worker failed to boot). */
  onFatal: ((err: WorkerBootError) => void) | null = null;

  constructor(private readonly opts: ArbiterOptions) {
    this.target = opts.workers;
    this.spec = opts.spec;
  }

  /** True between a reload() and the moment every old worker has been retired (or it failed). */
  get reloading(): boolean {
    return this.reloadFrom !== null;
  }
  /** True once the pool has booted and until it starts stopping (readiness). */
  get running(): boolean {
    return this.phase === "running";
  }
  get targetSize(): number {
    return this.target;
  }
  /** Called when a reload has completed (true) or was abandoned because the new code failed (false). */
  onReload: ((ok: boolean) => void) | null = null;

  /** Workers alive (booting, ready or stopping). */
  get size(): number {
    return this.workers.size;
  }
  get readyCount(): number {
    let n = 0;
    for (const w of this.workers) if (w.state === "ready") n++;
    return n;
  }
  get queued(): number {
    return this.queue.length;
  }
  /** Requests in flight on all workers (dispatched, terminal frame not yet received). */
  get inflight(): number {
    let n = 0;
    for (const w of this.workers) n += w.inflight.size;
    return n;
  }
  /** Snapshot for logs and tests. */
  pids(): number[] {
    return [...this.workers].filter((w) => w.state !== "dead").map((w) => w.pid);
  }

  /**
   * Spawn the pool; resolves once every worker has said HELLO. Rejects with
   * WorkerBootError (and leaves no process behind) when one cannot load the app.
   */
  start(): Promise<void> {
    if (this.phase !== "idle") throw new Error("Arbiter.start() called twice");
    this.phase = "booting";
    const p = new Promise<void>((resolve, reject) => {
      this.startWaiters = { resolve, reject };
    });
    const bootMs = this.opts.bootTimeoutMs ?? 60_000;
    this.bootTimer = setTimeout(() => {
      this.fail(
        new WorkerBootError(`workers did not become ready within ${bootMs / 1000}s`, "", 3),
      );
    }, bootMs);
    this.bootTimer.unref();
    const every = this.opts.heartbeatIntervalMs ?? 1000;
    this.heartbeat = setInterval(() => {
      this.checkHeartbeats();
    }, every);
    this.heartbeat.unref();
    const timeout = this.opts.timeoutMs ?? 0;
    if (timeout > 0) {
      // A few checks per timeout period: the 504 goes out at most a quarter late.
      this.deadlineTimer = setInterval(
        () => {
          this.checkDeadlines();
        },
        Math.max(50, Math.min(1000, timeout / 4)),
      );
      this.deadlineTimer.unref();
    }
    if (this.opts.preload === true) {
      const forks = new ForkPool(this.opts.log, this.opts.output);
      this.forks = forks;
      forks.listen().then(
        () => {
          this.wake();
        },
        (err: unknown) => {
          this.fail(
            new WorkerBootError(`--preload: cannot listen for workers: ${String(err)}`, "", 1),
          );
        },
      );
    } else this.wake();
    return p;
  }

  /**
   * Stop the pool. graceful: workers finish their requests in flight (SHUTDOWN), killed
   * after `timeoutMs`; quick: SIGTERM now. Queued requests are answered 503.
   * Safe to call from a signal handler: it only enqueues.
   */
  stop(graceful = true, timeoutMs = 30_000): Promise<void> {
    const p = new Promise<void>((resolve) => {
      if (this.phase === "stopped") resolve();
      else this.stopWaiters.push(resolve);
    });
    this.enqueue({ kind: "stop", graceful, timeoutMs });
    return p;
  }

  /**
   * HUP: start a new generation of workers (fresh code, optionally a new command and
   * size); once all of them are ready the old ones finish their requests and exit. If
   * the new code cannot boot, the old workers keep serving. Only enqueues.
   */
  reload(plan: ReloadPlan = {}): void {
    this.enqueue({ kind: "reload", plan });
  }

  /** One worker more (+1) or fewer (-1): Gunicorn's TTIN / TTOU. Only enqueues. */
  resize(delta: number): void {
    this.enqueue({ kind: "resize", delta });
  }

  /**
   * The fast path: a Lease at once when a thread is free and nobody is queued, else null
   * (then call dispatch(), which queues). Saves a promise and an AbortSignal per request.
   */
  tryDispatch(sink: RequestSink): Lease | null {
    if (this.queue.length > 0 || this.phase === "stopping" || this.phase === "stopped") return null;
    const w = this.pick();
    if (w === null) return null;
    const now = performance.now();
    return this.grant(w, sink, now, now);
  }

  /**
   * Ask for a thread without a promise: `t.granted(lease)` runs now when a thread is free
   * (and nobody waits), else once the request leaves the bounded queue; `t.refused()` runs
   * (now) when the queue is full or the pool is stopping. withdraw() cancels a queued one.
   */
  request(t: PoolTicket): void {
    const now = performance.now();
    t.askedAt = now;
    if (this.phase === "stopping" || this.phase === "stopped") {
      t.refused(new PoolUnavailable("the worker pool is stopping"));
      return;
    }
    if (this.queue.length === 0) {
      const w = this.pick();
      if (w !== null) {
        t.granted(this.grant(w, t.sink, now, now));
        return;
      }
    }
    if (this.queue.length >= this.opts.maxQueue) {
      t.refused(
        new PoolUnavailable(
          `all worker threads busy and ${this.queue.length} requests queued (--max-queue)`,
        ),
      );
      return;
    }
    this.queue.push(t);
  }

  /** Take a queued request out of the queue (its client left); false if it was not queued. */
  withdraw(t: PoolTicket): boolean {
    const i = this.queue.indexOf(t);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  /**
   * Hand a request to a worker: resolves with a Lease as soon as a thread is free (now,
   * or when it leaves the queue). Rejects with PoolUnavailable when the queue is full or
   * the pool is stopping, and with the signal's reason when the client leaves first.
   */
  dispatch(sink: RequestSink, signal?: AbortSignal): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const t = new PromiseTicket(sink, this, resolve, reject, signal);
      this.request(t);
      if (!t.settled) t.watch();
    });
  }

  // ---- dispatch

  /** The ready worker with the fewest requests in flight and a free thread; ties rotate. */
  private pick(): Worker | null {
    let best: Worker | null = null;
    let bestLoad = Infinity;
    const list = this.list;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const w = list[(this.rr + k) % n]!;
      if (w.state !== "ready") continue;
      const load = w.inflight.size;
      if (load >= w.capacity) continue;
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    this.rr = n === 0 ? 0 : (this.rr + 1) % n;
    return best;
  }

  private grant(worker: Worker, sink: RequestSink, askedAt: number, now: number): Lease {
    const id = worker.attach(sink, now);
    return new Grant(worker, id, now - askedAt, now);
  }

  /** Move queued requests onto free threads, oldest first. */
  private pump(): void {
    while (this.queue.length > 0) {
      const w = this.pick();
      if (w === null) return;
      const t = this.queue.shift()!;
      t.granted(this.grant(w, t.sink, t.askedAt, performance.now()));
    }
  }

  private rejectQueue(err: PoolUnavailable): void {
    for (const t of this.queue.splice(0)) t.refused(err);
  }

  // ---- the loop

  private enqueue(ev: ArbiterEvent): void {
    this.events.push(ev);
    this.wake();
  }

  private wake(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private onWorkerEvent = (ev: WorkerEvent): void => {
    // A freed thread is served at once (latency); everything else goes through the loop.
    if (ev.kind === "free") {
      const w = ev.worker;
      if (w.maxServed > 0 && w.served >= w.maxServed && !w.outdated && w.state === "ready") {
        w.outdated = true;
        this.enqueue({ kind: "recycle", worker: w });
      }
      this.pump();
      return;
    }
    this.enqueue(ev);
  };

  private run(): void {
    for (let ev = this.events.shift(); ev !== undefined; ev = this.events.shift()) this.handle(ev);
    this.converge();
  }

  private handle(ev: ArbiterEvent): void {
    const log = this.opts.log;
    switch (ev.kind) {
      case "ready":
        log.info(`Booted worker ${ev.worker.serial} with pid: ${ev.worker.pid}`);
        if (this.phase === "booting" && this.readyCount >= this.target) {
          this.phase = "running";
          if (this.bootTimer) clearTimeout(this.bootTimer);
          this.startWaiters?.resolve();
          this.startWaiters = null;
        }
        this.pump();
        return;
      case "boot-error":
        this.bootFailed(ev.worker, bootFailure(ev.report, ev.worker));
        return;
      case "exit":
        this.workers.delete(ev.worker);
        this.list = [...this.workers];
        this.reaped(ev.worker, ev.code, ev.signal);
        return;
      case "stop":
        if (this.phase === "stopping" || this.phase === "stopped") return;
        this.beginStop(ev.graceful, ev.timeoutMs);
        return;
      case "resize":
        this.target = Math.max(1, this.target + ev.delta);
        log.info(`Pool target is now ${this.target} workers`);
        return;
      case "reload":
        if (this.phase !== "running") return;
        if (this.reloadFrom !== null) {
          // A reload during a reload: the booting generation is replaced by a newer one.
          for (const w of this.workers) if (w.gen === this.gen) this.retire(w);
        } else this.reloadFrom = { gen: this.gen, spec: this.spec, target: this.target };
        this.gen++;
        if (ev.plan.spec !== undefined) this.spec = ev.plan.spec;
        if (ev.plan.workers !== undefined) this.target = Math.max(1, ev.plan.workers);
        log.info(`Reloading: starting ${this.target} new workers`);
        return;
      case "recycle":
        log.info(
          `Autorestarting worker after current request (pid: ${ev.worker.pid}, ${ev.worker.served} requests served).`,
        );
        return;
      case "free":
        return;
    }
  }

  private reaped(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const log = this.opts.log;
    const how = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
    if (this.phase === "stopping" || this.phase === "stopped" || w.retired) {
      log.info(`Worker exiting (pid: ${w.pid})`);
      return;
    }
    if (w.timedOut) {
      log.info(`Worker (pid:${w.pid}) killed after the request timeout; replacing it`);
      return;
    }
    if (w.state === "dead" && w.hello === null) {
      // Died before HELLO: an app that cannot load, or a worker that cannot start.
      const report = w.bootError ?? {
        reason: `worker exited with ${how} before it was ready`,
        traceback: w.recentOutput.join("\n"),
      };
      this.bootFailed(w, bootFailure(report, w, code));
      return;
    }
    if (w.hello !== null && (signal !== null || code !== 0))
      log.error(`Worker (pid:${w.pid}) was killed or crashed: exited with ${how}`);
    else log.warning(`Worker (pid:${w.pid}) exited with ${how}`);
    const now = performance.now();
    this.crashes = this.crashes.filter((t) => now - t < 10_000);
    this.crashes.push(now);
    // Back-off once a worker keeps dying: 0.1 s doubling per crash beyond 3 in 10 s, max 10 s.
    const extra = this.crashes.length - 3;
    if (extra > 0) {
      const delay = Math.min(10_000, 100 * 2 ** extra);
      this.respawnAt = now + delay;
      log.warning(
        `Workers keep dying (${this.crashes.length} in 10 s): next one in ${Math.round(delay)} ms`,
      );
    }
  }

  /**
   * Converge the pool: workers of the current generation (not marked outdated) are
   * "fresh"; start fresh ones until there are `target`, retire extra ones (TTOU), and
   * retire outdated ones (an older generation after HUP, or max-requests reached) only
   * once `target` fresh ones are ready — so capacity never drops during a reload.
   */
  private converge(): void {
    if (this.phase === "stopping") {
      if (this.workers.size === 0) this.finishStop();
      return;
    }
    if (this.phase !== "booting" && this.phase !== "running") return;
    const fresh: Worker[] = [];
    const outdated: Worker[] = [];
    let readyFresh = 0;
    for (const w of this.workers) {
      if (w.state !== "booting" && w.state !== "ready") continue;
      if (w.gen !== this.gen || w.outdated) outdated.push(w);
      else {
        fresh.push(w);
        if (w.state === "ready") readyFresh++;
      }
    }
    if (fresh.length > this.target) {
      // Retire the booting ones first, then the least loaded (TTOU).
      fresh.sort(
        (a, b) =>
          (a.state === "booting" ? -1 : 0) - (b.state === "booting" ? -1 : 0) ||
          a.inflight.size - b.inflight.size,
      );
      for (const w of fresh.slice(0, fresh.length - this.target)) this.retire(w);
      return;
    }
    if (readyFresh >= this.target && outdated.length > 0) {
      for (const w of outdated) this.retire(w);
    }
    if (this.forks !== null) {
      const gens = new Set<number>();
      for (const w of this.workers) if (w.state !== "dead") gens.add(w.gen);
      this.forks.retire(gens, this.gen);
    }
    if (this.reloadFrom !== null && readyFresh >= this.target) {
      this.reloadFrom = null;
      this.opts.log.info(`Reload complete: ${readyFresh} workers running the new code`);
      this.onReload?.(true);
    }
    let missing = this.target - fresh.length;
    if (missing <= 0) return;
    const wait = this.respawnAt - performance.now();
    if (wait > 0) {
      if (this.respawnTimer === null) {
        this.respawnTimer = setTimeout(() => {
          this.respawnTimer = null;
          this.wake();
        }, wait);
      }
      return;
    }
    if (this.respawnAt > 0) missing = 1; // after a back-off, one at a time
    this.respawnAt = 0;
    for (; missing > 0; missing--) this.spawnOne();
  }

  /** Out of rotation now; a ready worker finishes its requests (SHUTDOWN), a booting one is killed. */
  private retire(w: Worker): void {
    if (w.state === "booting") {
      w.retired = true;
      w.state = "stopping";
      if (w.connected) w.kill("SIGTERM");
      else w.abandon();
    } else {
      w.shutdown();
      const t = setTimeout(() => {
        if (w.state !== "dead") w.kill("SIGKILL");
      }, this.opts.gracefulTimeoutMs ?? 30_000);
      t.unref();
    }
  }

  /**
   * A worker could not load the app. During a reload that is the new code's fault: the
   * new generation is dropped and the old workers keep serving. Otherwise the server
   * stops (Gunicorn's APP_LOAD_ERROR): respawning would fail the same way forever.
   */
  private bootFailed(w: Worker, err: WorkerBootError): void {
    if (w.gen !== this.gen) return; // a generation already abandoned
    const from = this.reloadFrom;
    if (from === null || this.phase !== "running") {
      this.fail(err);
      return;
    }
    this.opts.log.error(
      `Reload failed, the old workers keep serving: ${err.message}` +
        (err.traceback !== "" ? `\n${err.traceback.trimEnd()}` : ""),
    );
    for (const x of this.workers) if (x.gen === this.gen) this.retire(x);
    this.gen = from.gen;
    this.spec = from.spec;
    this.target = from.target;
    this.reloadFrom = null;
    this.onReload?.(false);
    this.wake();
  }

  /**
   * --timeout: a request in flight longer than the timeout gets 504 now; its worker is
   * taken out of rotation, asked for the stuck thread's Python stack (DUMP_STACK, or
   * faulthandler through SIGUSR1 when the GIL is held), then killed and replaced.
   */
  private checkDeadlines(): void {
    const timeout = this.opts.timeoutMs ?? 0;
    if (timeout <= 0) return;
    const now = performance.now();
    for (const w of this.workers) {
      if (w.timedOut || w.state === "dead" || w.state === "booting") continue;
      let late = 0;
      w.inflight.forEach((id, _sink, t0) => {
        if (late === 0 && now - t0 > timeout) late = id;
      });
      if (late !== 0) this.timedOut(w, late, now, timeout);
    }
  }

  private timedOut(w: Worker, id: number, now: number, timeout: number): void {
    const log = this.opts.log;
    w.timedOut = true;
    w.state = "stopping";
    log.critical(
      `WORKER TIMEOUT (pid:${w.pid}): a request ran longer than ${timeout / 1000} s; dumping its stack and replacing the worker`,
    );
    w.inflight.forEach((_id, sink, t0) => {
      if (now - t0 > timeout) sink.onDeadline?.(timeout);
    });
    let done = false;
    const kill = (): void => {
      if (done) return;
      done = true;
      w.kill("SIGKILL");
    };
    // The stack normally comes back in a few ms; give it a moment before the kill.
    w.onStack = () => {
      setTimeout(kill, 20);
    };
    w.dumpStack(id);
    setTimeout(() => {
      if (done) return;
      // No STACK: a thread holds the GIL. faulthandler writes every thread's stack to stderr.
      log.error(`Worker (pid:${w.pid}) did not answer DUMP_STACK; sending SIGUSR1 (faulthandler)`);
      w.kill("SIGUSR1");
      setTimeout(kill, 300);
    }, 500);
    this.wake();
  }

  private spawnOne(): void {
    const w = new Worker(
      ++this.serial,
      this.forks === null ? this.spec : null,
      this.opts.log,
      this.opts.output,
      this.onWorkerEvent,
    );
    if (this.forks !== null) this.forks.fork(w, this.gen, this.spec);
    w.pipeline = this.opts.pipeline ?? 8;
    w.gen = this.gen;
    const max = this.opts.maxRequests ?? 0;
    if (max > 0) {
      // Gunicorn: max_requests + randint(0, max_requests_jitter).
      const jitter = this.opts.maxRequestsJitter ?? 0;
      w.maxServed = max + Math.floor(Math.random() * (jitter + 1));
    }
    this.workers.add(w);
    this.list = [...this.workers];
    if (this.forks === null) this.opts.log.info(`Booting worker with pid: ${w.pid}`);
  }

  private checkHeartbeats(): void {
    const timeout = this.opts.heartbeatTimeoutMs ?? 30_000;
    const now = performance.now();
    const bootMs = this.opts.bootTimeoutMs ?? 60_000;
    for (const w of this.workers) {
      if (w.state === "booting" && this.phase === "running" && now - w.spawnedAt > bootMs) {
        // A replacement stuck importing the app: it failed to boot (stops the pool).
        this.opts.log.critical(
          `Worker (pid:${w.pid}) not ready after ${bootMs / 1000} s; killing it`,
        );
        w.kill("SIGKILL");
        continue;
      }
      if (w.state !== "ready" && w.state !== "stopping") continue;
      if (now - w.lastPong > timeout) {
        this.opts.log.critical(
          `WORKER TIMEOUT (pid:${w.pid}): no answer to PING for ${Math.round((now - w.lastPong) / 1000)} s`,
        );
        w.kill("SIGKILL");
      } else w.ping();
    }
  }

  /** A worker could not load the app: stop everything, report once. */
  private fail(err: WorkerBootError): void {
    if (this.fatal !== null) return;
    this.fatal = err;
    this.opts.log.error(`Worker failed to boot: ${err.message}`);
    const starting = this.startWaiters;
    this.startWaiters = null;
    // Report only once every worker is gone, so nothing is left behind.
    this.stopWaiters.push(() => {
      if (starting) starting.reject(err);
      else this.onFatal?.(err);
    });
    this.beginStop(false, 0);
  }

  private beginStop(graceful: boolean, timeoutMs: number): void {
    this.phase = "stopping";
    if (this.bootTimer) clearTimeout(this.bootTimer);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.rejectQueue(new PoolUnavailable("the worker pool is stopping"));
    for (const w of this.workers) {
      if (!w.connected) {
        w.retired = true;
        w.abandon(); // a --preload worker not forked yet
      } else if (graceful) w.shutdown();
      else w.kill("SIGTERM");
    }
    // Whatever is still alive after the grace period is killed.
    this.stopTimer = setTimeout(
      () => {
        for (const w of this.workers) w.kill("SIGKILL");
      },
      graceful ? timeoutMs : 2000,
    );
    this.stopTimer.unref();
    this.wake();
  }

  private finishStop(): void {
    this.phase = "stopped";
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.forks?.close();
    for (const resolve of this.stopWaiters.splice(0)) resolve();
  }
}

function bootFailure(report: ErrorReport, w: Worker, code: number | null = null): WorkerBootError {
  const exitCode = code !== null && code > 0 ? code : 4;
  const reason = report.reason.split("\n")[0] ?? report.reason;
  return new WorkerBootError(
    `worker ${w.serial} (pid ${w.pid}): ${reason}`,
    report.traceback,
    exitCode,
  );
}
