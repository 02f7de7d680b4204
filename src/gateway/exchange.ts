/**
 * One request's life between the HTTP front end and a worker: sends REQUEST (+ body),
 * turns the worker's RESPONSE_* frames into ResponseWriter calls, and handles the three
 * ways it can go wrong — the app fails (500), the worker dies (502), the client leaves
 * (ABORT to the worker, which closes the app's iterable).
 *
 * Node reads the worker's frames as fast as they come and lets the ResponseWriter buffer
 * for a slow client, so the worker's thread is free as soon as the app is done; chunks
 * are still written as they arrive, so streaming responses stream.
 */
import { closeSync, openSync } from "node:fs";
import type { Logger } from "../core/log.js";
import type { HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import type { Lease, PoolTicket, PoolUnavailable } from "../arbiter/arbiter.js";
import type { ReadWaiter, RequestSink } from "../arbiter/worker.js";
import {
  BodyMode,
  decodeAppError,
  decodeResponseFile,
  decodeStack,
  EMPTY,
  encodeAbort,
  encodeBody,
  encodeBodyEnd,
  encodeFileAck,
  encodeRequestWith,
  FrameType,
  type Frame,
} from "../protocol/index.js";
import { disposeBody, type SpooledBody } from "./body-spool.js";
import { prepareHead, type PreparedHead } from "./head-cache.js";
import { requestMeta } from "./request-meta.js";

/** Bodies up to this size travel inside the REQUEST frame (one write); bigger ones in BODY frames. */
const INLINE_BODY_MAX = 4 * 1024 * 1024;

export type GatewayOutcome =
  | "ok" // RESPONSE_END
  | "app_error" // APP_ERROR: 500, or a cut response
  | "worker_lost" // the worker died mid-request: 502
  | "timeout" // ran past --timeout: 504, the worker is replaced
  | "client_gone" // the client left; the worker was told to stop
  | "unavailable" // queue full or pool stopping: 503
  | "body_error"; // the request body could not be read (413, 408, framing)

/** Per-request facts for the access log and metrics. */
export interface GatewayRecord {
  outcome: GatewayOutcome | null;
  workerPid: number | null;
  requestId: number | null;
  /** Time to read the request body completely (ms). */
  bodyMs: number;
  bodyLength: number;
  bodySpilled: boolean;
  /** Time waiting for a free worker thread (ms). */
  queuedMs: number;
  /** From REQUEST sent to the terminal frame (ms): the app's time. */
  appMs: number | null;
  /** The body was a wsgi.file_wrapper file that Node sent from disk itself. */
  fileHandOff: boolean;
  /** The headers the app answered with (for `%({name}o)s`); [] for our own error pages. */
  responseHeaders: HeaderList;
}

export function newRecord(): GatewayRecord {
  return {
    outcome: null,
    workerPid: null,
    requestId: null,
    bodyMs: 0,
    bodyLength: 0,
    bodySpilled: false,
    queuedMs: 0,
    appMs: null,
    fileHandOff: false,
    responseHeaders: [],
  };
}

type Op = () => void | Promise<void>;

/** Who answers for an exchange once it is over, or when the pool refuses it (503). */
export interface ExchangeOwner {
  finished(ex: WsgiExchange): void;
  refused(ex: WsgiExchange, err: PoolUnavailable): void;
}

export class WsgiExchange implements RequestSink, PoolTicket, ReadWaiter {
  private lease: Lease | null = null;
  /** RESPONSE_HEAD received but not yet written (written with the first body bytes). */
  private head: PreparedHead | null = null;
  private clientGone = false;
  private terminal = false;
  private sentAt = 0;
  /** Response operations waiting behind an asynchronous one (sendFile); null when none is running. */
  private ops: Op[] | null = null;
  /** The first body chunk, held back until the worker's read is routed (see RESPONSE_BODY). */
  private held: Buffer | null = null;
  /** PoolTicket: when the request asked for a thread. */
  askedAt = 0;

  constructor(
    private readonly req: IncomingRequest,
    private readonly res: ResponseWriter,
    readonly body: SpooledBody,
    private readonly log: Logger,
    readonly record: GatewayRecord,
    private readonly owner: ExchangeOwner,
  ) {}

  /** PoolTicket: this exchange is its own sink. */
  get sink(): RequestSink {
    return this;
  }

  /** PoolTicket: a thread is free. */
  granted(lease: Lease): void {
    this.start(lease);
  }

  /** PoolTicket: queue full or pool stopping. */
  refused(err: PoolUnavailable): void {
    this.owner.refused(this, err);
  }

  /** The pool granted a thread: send the request. */
  start(lease: Lease): void {
    this.lease = lease;
    const record = this.record;
    record.workerPid = lease.worker.pid;
    record.requestId = lease.id;
    record.queuedMs = lease.queuedMs;
    if (this.terminal) return; // the worker died between grant and now
    this.sentAt = lease.grantedAt;
    try {
      this.sendRequest(lease);
    } catch (err) {
      // The request cannot be encoded (more than 4096 header fields or a 64 KiB field,
      // possible with raised --limit-request-* settings): nothing reached the worker.
      // Answered here, also when granted from the queue (inside the worker's read).
      lease.worker.detach(lease.id);
      this.lease = null;
      this.log.error(
        `error handling ${this.what()}: ${err instanceof Error ? err.message : String(err)}`,
      );
      this.op(() => {
        this.res.closeAfter();
        this.res.sendError(500);
      });
      this.finish("app_error");
    }
  }

  private sendRequest(lease: Lease): void {
    const b = this.body;
    const id = lease.id;
    const meta = requestMeta(this.req);
    if (b.kind === "file") {
      lease.send(encodeRequestWith(id, meta, BodyMode.FILE, b.length, b.path));
    } else if (b.length <= INLINE_BODY_MAX) {
      const data =
        b.length === 0
          ? EMPTY
          : b.chunks.length === 1
            ? b.chunks[0]!
            : Buffer.concat(b.chunks, b.length);
      lease.send(encodeRequestWith(id, meta, BodyMode.INLINE, b.length, "", data));
    } else {
      const frames: Buffer[] = [encodeRequestWith(id, meta, BodyMode.FRAMES, b.length, "")];
      for (const c of b.chunks) frames.push(...encodeBody(id, c));
      frames.push(encodeBodyEnd(id));
      lease.send(frames);
    }
    if (this.clientGone) lease.send(encodeAbort(id));
  }

  /** The client disconnected: tell the worker, which stops the app's iteration and closes it. */
  clientLeft(): void {
    if (this.clientGone || this.terminal) return;
    this.clientGone = true;
    this.record.outcome = "client_gone";
    if (this.lease !== null) this.lease.send(encodeAbort(this.lease.id));
  }

  onFrame(f: Frame): void {
    // After a 504 only the stack report still matters; late response frames are dropped.
    if (this.terminal && f.type !== FrameType.STACK) return;
    switch (f.type) {
      case FrameType.RESPONSE_HEAD:
        this.head = prepareHead(f.payload);
        return;
      case FrameType.RESPONSE_BODY: {
        if (this.clientGone) return;
        const chunk = f.payload;
        if (this.ops === null) this.bodyChunk(chunk);
        else
          this.ops.push(() => {
            this.bodyChunk(chunk);
          });
        return;
      }
      case FrameType.RESPONSE_FILE:
        this.fileHandOff(f);
        return;
      case FrameType.RESPONSE_END:
        if (this.ops === null) this.endOk();
        else
          this.ops.push(() => {
            this.endOk();
          });
        this.finish("ok");
        return;
      case FrameType.APP_ERROR: {
        const report = decodeAppError(f.payload);
        this.log.error(
          `Error handling request ${this.req.target}: ${report.reason}\n${report.traceback.trimEnd()}`,
        );
        // Nothing written yet: a clean 500. Otherwise the response cannot be repaired;
        // cutting the connection is the only honest signal (no terminating chunk).
        this.op(() => {
          if (this.res.headersSent) this.res.abort();
          else this.res.sendError(500);
        });
        this.finish("app_error");
        return;
      }
      case FrameType.STACK: {
        const s = decodeStack(f.payload);
        this.log.error(`Stack of ${s.thread} serving ${this.what()}:\n${s.stack.trimEnd()}`);
        return;
      }
      default:
        return;
    }
  }

  private bodyChunk(chunk: Buffer): void {
    if (this.head !== null && this.held === null && this.ops === null) {
      // The first chunk: hold it until the frames that came with it are routed. If
      // RESPONSE_END is among them (a one-chunk body, the common case), the length is
      // known and the response gets a Content-Length instead of chunked framing.
      this.held = chunk;
      this.lease?.worker.afterRead(this);
      return;
    }
    this.releaseHeld();
    this.res.write(chunk);
  }

  /** ReadWaiter: the frames that came with the held chunk are routed; no RESPONSE_END among them. */
  onReadDone(): void {
    if (this.held === null) return;
    if (this.ops === null) this.releaseHeld();
    else
      this.ops.push(() => {
        this.releaseHeld();
      });
  }

  /** RESPONSE_END: the held chunk, if any, is the whole body. */
  private endOk(): void {
    if (this.head !== null) {
      const body = this.held ?? EMPTY;
      this.held = null;
      this.flushHead(this.knownLength(body.length));
      this.res.end(body.length > 0 ? body : undefined);
    } else if (this.res.headersSent) {
      this.releaseHeld();
      this.res.end();
    } else {
      this.log.error(
        `worker pid ${this.lease?.worker.pid ?? "?"} ended ${this.what()} without a response head`,
      );
      this.res.sendError(502);
    }
  }

  /** --timeout passed: 504 (or a cut response if the head is out); the worker is being replaced. */
  onDeadline(timeoutMs: number): void {
    if (this.terminal) return;
    this.log.error(
      `Request timeout: ${this.what()} ran longer than ${timeoutMs / 1000} s on worker pid ${this.lease?.worker.pid ?? "?"} (504)`,
    );
    this.op(() => {
      if (this.res.headersSent) this.res.abort();
      else {
        this.res.closeAfter();
        this.res.sendError(504);
      }
    });
    this.finish("timeout");
  }

  onWorkerLost(reason: string): void {
    if (this.terminal) return;
    this.log.error(`${reason} while serving ${this.what()}`);
    this.op(() => {
      if (this.res.headersSent) this.res.abort();
      else this.res.sendError(502);
    });
    this.finish("worker_lost");
  }

  private what(): string {
    return `${this.req.method} ${this.req.target}`;
  }

  /**
   * wsgi.file_wrapper: open the worker's descriptor through /proc and send the bytes from
   * disk ourselves; FILE_ACK tells the worker whether it may close its file (1) or must
   * stream it as RESPONSE_BODY frames instead (0, e.g. not Linux).
   */
  private fileHandOff(f: Frame): void {
    const lease = this.lease;
    if (lease === null) return;
    const file = decodeResponseFile(f.payload);
    let fd: number | null = null;
    if (!this.clientGone) {
      try {
        fd = openSync(`/proc/${file.pid}/fd/${file.fd}`, "r");
      } catch {
        fd = null;
      }
    }
    lease.send(encodeFileAck(lease.id, fd !== null));
    if (fd === null) return;
    const own = fd;
    this.record.fileHandOff = true;
    this.op(async () => {
      try {
        this.flushHead(file.length);
        await this.res.sendFile(own, file.offset, file.offset + file.length);
      } catch (err) {
        this.log.error(`sending the file of ${this.what()} failed: ${(err as Error).message}`);
        this.res.abort();
      } finally {
        closeSync(own);
      }
    });
  }

  private releaseHeld(): void {
    const held = this.held;
    this.flushHead(null);
    if (held === null) return;
    this.held = null;
    this.res.write(held);
  }

  /**
   * The complete body's length when it may become the Content-Length: not for HEAD (the
   * app may have skipped the body) nor for statuses without a body (RFC 9110 §8.6).
   */
  private knownLength(n: number): number | null {
    const status = this.head?.status ?? 0;
    if (this.req.method === "HEAD" || status < 200 || status === 204 || status === 304) return null;
    return n;
  }

  /** Write the deferred head; `length` adds Content-Length when the app gave none. */
  private flushHead(length: number | null): void {
    const h = this.head;
    if (h === null || this.res.headersSent) return;
    this.head = null;
    // Trimmed like Gunicorn does (Django's Set-Cookie comes with a leading space).
    const headers = length !== null && !h.hasLength ? h.withLength(length) : h.headers;
    this.record.responseHeaders = headers;
    this.res.writeHead(h.status, headers, h.reason);
  }

  /** The terminal frame (or the worker's death): record, free the body, notify once. */
  private finish(outcome: GatewayOutcome): void {
    if (this.terminal) return;
    this.terminal = true;
    // A chunk held back for this read is dropped with its response (500, 502, 504).
    if (outcome !== "ok") this.held = null;
    if (this.record.outcome === null) this.record.outcome = outcome;
    if (this.sentAt > 0) this.record.appMs = performance.now() - this.sentAt;
    if (this.body.kind === "file") void disposeBody(this.body);
    // Reported once the response's last operation has run (after sendFile, too).
    if (this.ops === null) this.owner.finished(this);
    else
      this.ops.push(() => {
        this.owner.finished(this);
      });
  }

  /**
   * Run a response operation in order with the others: at once unless an asynchronous
   * one (sendFile, the only one) is still running, then after it.
   */
  private op(fn: Op): void {
    if (this.ops !== null) {
      this.ops.push(fn);
      return;
    }
    const r = fn();
    if (r instanceof Promise) {
      this.ops = [];
      void this.drainOps(r);
    }
  }

  private async drainOps(first: Promise<void>): Promise<void> {
    try {
      await first;
      const ops = this.ops!;
      // Ops run even after the client left: the writer drops the bytes, and the file op
      // must still close its descriptor.
      for (let fn = ops.shift(); fn !== undefined; fn = ops.shift()) {
        const r = fn();
        if (r instanceof Promise) await r;
      }
    } finally {
      this.ops = null;
    }
  }
}
