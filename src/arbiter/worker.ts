/**
 * One Python worker process: spawn, the fd 3 frame stream, routing of frames to the
 * requests in flight, heartbeat bookkeeping. It decides nothing about the pool: every
 * state change is reported to the arbiter's loop through `onEvent`.
 *
 * Protocol: docs/protocol.md. Request ids are chosen here, unique among this worker's
 * requests in flight; a request is in flight until its terminal frame (RESPONSE_END or
 * APP_ERROR) arrives, which is what frees the worker's thread for the next request.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import type { Logger } from "../core/log.js";
import {
  decodeBootError,
  decodeHello,
  decodeLog,
  encodeDumpStack,
  encodePing,
  encodeShutdown,
  FrameDecoder,
  FrameType,
  ProtocolError,
  type ErrorReport,
  type Frame,
  type Hello,
} from "../protocol/index.js";
import { forwardLines } from "./lines.js";
import { InflightTable } from "./inflight.js";

/** The gateway's side of one request: receives that request's frames from the worker. */
export interface RequestSink {
  /** RESPONSE_HEAD, RESPONSE_BODY, RESPONSE_FILE, STACK, and the terminal RESPONSE_END / APP_ERROR. */
  onFrame(frame: Frame): void;
  /** The worker died (or broke the protocol) before the terminal frame. */
  onWorkerLost(reason: string): void;
  /**
   * The request ran past --timeout: answer 504 now. The worker is being replaced; a STACK
   * frame may still follow (routed to onFrame).
   */
  onDeadline?(timeoutMs: number): void;
}

/** How to start a worker process (built once from the settings by command.ts). */
export interface WorkerSpec {
  readonly python: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run the worker as this user / group (--user, --group). */
  readonly uid?: number;
  readonly gid?: number;
}

export type WorkerState = "booting" | "ready" | "stopping" | "dead";

export type WorkerEvent =
  | { readonly kind: "ready"; readonly worker: Worker }
  | { readonly kind: "boot-error"; readonly worker: Worker; readonly report: ErrorReport }
  | { readonly kind: "free"; readonly worker: Worker }
  | {
      readonly kind: "exit";
      readonly worker: Worker;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    };

/** Told when the frames of the current read have all been routed (Worker.afterRead). */
export interface ReadWaiter {
  onReadDone(): void;
}

/** Gathered frames up to this size are copied into one buffer; beyond, written with writev. */
const COALESCE_MAX = 64 * 1024;

/** Workers with frames to write at the next check phase: one setImmediate for them all. */
let flushing: Worker[] = [];
function flushLater(w: Worker): void {
  if (flushing.push(w) === 1) setImmediate(flushAll);
}
function flushAll(): void {
  const list = flushing;
  flushing = [];
  for (const w of list) w.flush();
}

/** Lines of stderr kept to explain a worker that dies before HELLO without BOOT_ERROR. */
const KEPT_LINES = 40;

export class Worker {
  state: WorkerState = "booting";
  /** The process when Node spawned it; null for a worker forked by a --preload zygote. */
  readonly child: ChildProcess | null;
  pid: number;
  hello: Hello | null = null;
  bootError: ErrorReport | null = null;
  /** Requests in flight on this worker, by request id, with when each was handed over. */
  readonly inflight = new InflightTable<RequestSink>();
  /** Asked to exit (SHUTDOWN): its exit is expected, not a crash. */
  retired = false;
  /** Requests this worker has finished (terminal frame received). */
  served = 0;
  /** Recycle after this many requests (--max-requests + jitter); 0 = never. */
  maxServed = 0;
  /** The pool generation it belongs to (bumped by each reload). */
  gen = 0;
  /** To be replaced (max-requests reached): retired once a successor is ready. */
  outdated = false;
  /** Killed for running a request past --timeout. */
  timedOut = false;
  /** Called when a STACK frame arrives (the arbiter waits for it before the kill). */
  onStack: (() => void) | null = null;
  /** A zygote's FORKED / CHILD_EXIT frames (--preload). */
  onControl: ((f: Frame) => void) | null = null;
  /** The zygote that forked this worker (--preload), else null. */
  zygote: Worker | null = null;
  /** Exit status reported by the zygote (CHILD_EXIT) for a forked worker. */
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** performance.now() of the last PONG (or of the spawn). */
  lastPong: number;
  readonly spawnedAt: number;
  /** The last stderr lines, for a worker that dies before it can say why. */
  readonly recentOutput: string[] = [];
  private channel: Socket | null = null;
  private readonly decoder = new FrameDecoder("worker");
  private nextId = 1;
  private pingSeq = 0;
  /** One "free" event object for every terminal frame (sent once per request). */
  private readonly freeEvent: WorkerEvent = { kind: "free", worker: this };

  constructor(
    readonly serial: number,
    spec: WorkerSpec | null,
    private readonly log: Logger,
    output: (line: string) => void,
    private readonly onEvent: (ev: WorkerEvent) => void,
  ) {
    this.spawnedAt = this.lastPong = performance.now();
    if (spec === null) {
      // Forked by a zygote: pid and connection arrive later (adopt()).
      this.child = null;
      this.pid = -1;
      return;
    }
    const child = spawn(spec.python, [...spec.args], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: spec.env,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    });
    this.child = child;
    this.pid = child.pid ?? -1;
    const keep = (line: string): void => {
      output(line);
      this.recentOutput.push(line);
      if (this.recentOutput.length > KEPT_LINES) this.recentOutput.shift();
    };
    if (child.stdout) forwardLines(child.stdout, keep);
    if (child.stderr) forwardLines(child.stderr, keep);
    const channel = child.stdio[3] as Socket;
    this.channel = channel;
    channel.on("data", (data: Buffer) => {
      this.receive(data);
    });
    // EPIPE/ECONNRESET after the worker died: its exit event reports it.
    channel.on("error", () => undefined);
    child.on("error", (err) => {
      // spawn failure (ENOENT, EACCES): reported like a boot failure, then "exit".
      this.bootError ??= { reason: `cannot start ${spec.python}: ${err.message}`, traceback: "" };
      if (child.pid === undefined) this.exited(127, null);
    });
    child.on("exit", (code, signal) => {
      // Let fd 3 deliver what it still holds (a BOOT_ERROR just before exit 4).
      if (channel.readableEnded || channel.destroyed) this.exited(code, signal);
      else {
        const done = (): void => {
          this.exited(code, signal);
        };
        channel.once("close", done);
        setTimeout(done, 200).unref();
      }
    });
  }

  /** Extra requests queued inside the worker beyond its threads (see ArbiterOptions.pipeline). */
  pipeline = 1;

  /**
   * Requests this worker may hold: its threads plus `pipeline` waiting inside it, so the
   * next request is already there when a thread frees up (no idle round trip to Node).
   */
  /**
   * --preload: the forked worker's connection to Node's socket, with the bytes already
   * read from it (its HELLO). Its end is the worker's death.
   */
  adopt(pid: number, socket: Socket, first: Buffer): void {
    this.pid = pid;
    this.channel = socket;
    socket.on("data", (data: Buffer) => {
      this.receive(data);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const st = this.exitStatus;
      this.exited(st?.code ?? null, st?.signal ?? null);
    });
    if (first.length > 0) this.receive(first);
  }

  /** Has its frame channel (always, except a forked worker before its connection). */
  get connected(): boolean {
    return this.channel !== null;
  }

  /** A forked worker that never connected: dies now (its boot failure is in bootError). */
  abandon(): void {
    if (this.channel === null) this.exited(null, null);
  }

  get capacity(): number {
    return (this.hello?.threads ?? 1) + this.pipeline;
  }

  /** A fresh request id, unique among this worker's requests in flight; registers the sink. */
  attach(sink: RequestSink, now = performance.now()): number {
    let id = this.nextId;
    while (!this.inflight.isFree(id)) id = id >= 0xffffffff ? 1 : id + 1;
    this.nextId = id >= 0xffffffff ? 1 : id + 1;
    this.inflight.add(id, sink, now);
    return id;
  }

  /** Give back an id whose REQUEST was never sent (it could not be encoded): the thread is free. */
  detach(id: number): void {
    if (this.inflight.take(id) === undefined) return;
    this.onEvent(this.freeEvent);
  }

  /**
   * Write frames (one buffer or a header+chunk list) to the worker; dropped once dead.
   * Everything sent until the event loop's check phase goes out in one write: under load
   * one read of the worker's answers frees several requests, and their REQUEST frames
   * share a syscall instead of one write() each. REQUEST frames may wait longer while
   * the worker still has plenty queued inside it (see flush).
   */
  send(data: Buffer | readonly Buffer[]): void {
    const ch = this.channel;
    if (this.state === "dead" || ch === null || ch.destroyed) return;
    if (Buffer.isBuffer(data)) {
      this.out.push(data);
      this.outBytes += data.length;
      if (data[0] === FrameType.REQUEST) this.outRequests++;
      else this.urgent = true;
    } else {
      for (const b of data) {
        this.out.push(b);
        this.outBytes += b.length;
      }
      this.urgent = true;
    }
    this.scheduleFlush();
  }

  /** Frames waiting for the check phase (see send). */
  private out: Buffer[] = [];
  private outBytes = 0;
  /** REQUEST frames among them. */
  private outRequests = 0;
  /** A frame other than REQUEST is among them (BODY, ABORT, PING...): write at the next turn. */
  private urgent = false;
  private flushScheduled = false;
  /** flush() kept REQUEST frames back: write them once the worker's backlog is low. */
  private deferred = false;

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    flushLater(this);
  }

  /**
   * Requests written to the worker and not finished yet: its backlog. While it holds more
   * than `threads + pipeline/2`, new REQUEST frames wait in Node until there are half a
   * pipeline of them: they would wait in the worker's queue anyway, and a worker that is
   * always busy then gets several per write (fewer syscalls and wake-ups on both sides).
   */
  private get backlog(): number {
    return this.inflight.size - this.outRequests;
  }
  private get backlogLow(): number {
    return (this.hello?.threads ?? 1) + (this.pipeline >> 1);
  }

  /** Write what send() gathered: small frames copied into one buffer, big chunks by writev. */
  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    const n = out.length;
    if (n === 0) return;
    if (
      !this.urgent &&
      this.outRequests < this.pipeline >> 1 &&
      this.backlog > this.backlogLow &&
      this.state === "ready"
    ) {
      this.deferred = true;
      return;
    }
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    this.outRequests = 0;
    this.urgent = false;
    this.deferred = false;
    const ch = this.channel;
    if (this.state === "dead" || ch === null || ch.destroyed) return;
    if (n === 1) ch.write(out[0]!);
    else if (bytes <= COALESCE_MAX) ch.write(Buffer.concat(out, bytes));
    else {
      ch.cork();
      for (const b of out) ch.write(b);
      ch.uncork();
    }
  }

  /**
   * Call `s.onReadDone()` once the frames of the read being routed have all been routed
   * (a sink holding a first body chunk learns whether RESPONSE_END came with it).
   */
  afterRead(s: ReadWaiter): void {
    this.readWaiters.push(s);
  }
  private readonly readWaiters: ReadWaiter[] = [];

  ping(): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(++this.pingSeq >>> 0, 0);
    this.send(encodePing(p));
  }

  /** Graceful: finish the requests in flight, then exit 0 (protocol SHUTDOWN). */
  shutdown(): void {
    if (this.state === "dead") return;
    this.state = "stopping";
    this.retired = true;
    this.send(encodeShutdown());
  }

  /** Ask for the Python stack of the thread serving request `id` (answered by STACK). */
  dumpStack(id: number): void {
    this.send(encodeDumpStack(id));
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.state === "dead") return;
    try {
      if (this.child !== null) this.child.kill(signal);
      else if (this.pid > 0) process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  private receive(data: Buffer): void {
    try {
      this.routeAll(data);
    } finally {
      const waiters = this.readWaiters;
      for (let i = 0; i < waiters.length; i++) waiters[i]!.onReadDone();
      waiters.length = 0;
    }
  }

  private routeAll(data: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(data);
    } catch (err) {
      const msg = err instanceof ProtocolError ? err.message : String(err);
      this.log.error(`worker ${this.serial} (pid ${this.pid}): ${msg}; killing it`);
      this.channel?.destroy();
      this.kill("SIGKILL");
      return;
    }
    for (const f of frames) {
      try {
        this.route(f);
      } catch (err) {
        const msg = err instanceof ProtocolError ? err.message : String(err);
        this.log.error(`worker ${this.serial} (pid ${this.pid}): ${msg}; killing it`);
        this.channel?.destroy();
        this.kill("SIGKILL");
        return;
      }
    }
  }

  private route(f: Frame): void {
    switch (f.type) {
      case FrameType.HELLO:
        this.hello = decodeHello(f.payload);
        if (this.state === "booting") {
          this.state = "ready";
          this.lastPong = performance.now();
          this.onEvent({ kind: "ready", worker: this });
        }
        return;
      case FrameType.BOOT_ERROR:
        this.bootError = decodeBootError(f.payload);
        this.onEvent({ kind: "boot-error", worker: this, report: this.bootError });
        return;
      case FrameType.PONG:
        this.lastPong = performance.now();
        return;
      case FrameType.LOG: {
        const rec = decodeLog(f.payload);
        this.log.log(rec.level, f.id === 0 ? rec.message : `[request ${f.id}] ${rec.message}`);
        return;
      }
      case FrameType.RESPONSE_END:
      case FrameType.APP_ERROR: {
        const sink = this.inflight.take(f.id);
        this.served++;
        if (this.deferred && this.backlog <= this.backlogLow) this.scheduleFlush();
        // The thread is free before the sink runs: a queued request may go next.
        this.onEvent(this.freeEvent);
        sink?.onFrame(f);
        return;
      }
      case FrameType.FORKED:
      case FrameType.CHILD_EXIT:
        this.onControl?.(f);
        return;
      case FrameType.STACK:
        this.inflight.get(f.id)?.onFrame(f);
        this.onStack?.();
        return;
      default:
        // RESPONSE_HEAD, RESPONSE_BODY, RESPONSE_FILE, STACK: for the request's sink. A
        // frame for an unknown id can only be a late one for a request already failed.
        this.inflight.get(f.id)?.onFrame(f);
    }
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === "dead") return;
    this.state = "dead";
    this.channel?.destroy();
    const how = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
    const lost = this.inflight.clear();
    for (const sink of lost)
      sink.onWorkerLost(`worker ${this.serial} (pid ${this.pid}) exited with ${how}`);
    this.onEvent({ kind: "exit", worker: this, code, signal });
  }
}
