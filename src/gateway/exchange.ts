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
import type { Lease } from "../arbiter/arbiter.js";
import type { RequestSink } from "../arbiter/worker.js";
import {
  BodyMode,
  decodeAppError,
  decodeResponseFile,
  decodeResponseHead,
  decodeStack,
  EMPTY,
  encodeAbort,
  encodeBody,
  encodeBodyEnd,
  encodeFileAck,
  encodeRequest,
  FrameType,
  type Frame,
} from "../protocol/index.js";
import { disposeBody, type SpooledBody } from "./body-spool.js";
import type { MetaWithoutBody } from "./request-meta.js";

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

const PADDED = /^[ \t]|[ \t]$/;
const TRIM = /^[ \t]+|[ \t]+$/g;

export class WsgiExchange implements RequestSink {
  private lease: Lease | null = null;
  /** RESPONSE_HEAD received but not yet written (written with the first body bytes). */
  private head: { status: number; reason: string; headers: HeaderList } | null = null;
  private clientGone = false;
  private terminal = false;
  private sentAt = 0;
  private readonly ops: Op[] = [];
  private busy = false;
  /** The first body chunk, held back for one tick (see RESPONSE_BODY). */
  private held: Buffer | null = null;

  constructor(
    private readonly req: IncomingRequest,
    private readonly res: ResponseWriter,
    private readonly meta: MetaWithoutBody,
    private readonly body: SpooledBody,
    private readonly log: Logger,
    readonly record: GatewayRecord,
    private readonly onFinish: (ex: WsgiExchange) => void,
  ) {}

  /** The pool granted a thread: send the request. */
  start(lease: Lease): void {
    this.lease = lease;
    this.record.workerPid = lease.worker.pid;
    this.record.requestId = lease.id;
    this.record.queuedMs = lease.queuedMs;
    if (this.terminal) return; // the worker died between grant and now
    this.sentAt = performance.now();
    const b = this.body;
    if (b.kind === "file") {
      lease.send(
        encodeRequest(lease.id, {
          ...this.meta,
          bodyLength: b.length,
          bodyMode: BodyMode.FILE,
          bodyFile: b.path,
        }),
      );
    } else if (b.length <= INLINE_BODY_MAX) {
      const data = b.chunks.length === 1 ? b.chunks[0]! : Buffer.concat(b.chunks, b.length);
      lease.send(
        encodeRequest(
          lease.id,
          { ...this.meta, bodyLength: b.length, bodyMode: BodyMode.INLINE, bodyFile: "" },
          data,
        ),
      );
    } else {
      lease.send(
        encodeRequest(lease.id, {
          ...this.meta,
          bodyLength: b.length,
          bodyMode: BodyMode.FRAMES,
          bodyFile: "",
        }),
      );
      for (const c of b.chunks) lease.send(encodeBody(lease.id, c));
      lease.send(encodeBodyEnd(lease.id));
    }
    if (this.clientGone) lease.send(encodeAbort(lease.id));
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
      case FrameType.RESPONSE_HEAD: {
        const h = decodeResponseHead(f.payload);
        this.head = { status: h.status, reason: h.reason, headers: h.headers };
        return;
      }
      case FrameType.RESPONSE_BODY: {
        if (this.clientGone) return;
        const chunk = f.payload;
        this.op(() => {
          if (this.head !== null && this.held === null) {
            // The first chunk: hold it until the frames that came with it are routed. If
            // RESPONSE_END is among them (a one-chunk body, the common case), the length is
            // known and the response gets a Content-Length instead of chunked framing.
            this.held = chunk;
            queueMicrotask(() => {
              this.op(() => {
                this.releaseHeld();
              });
            });
            return;
          }
          this.releaseHeld();
          this.res.write(chunk);
        });
        return;
      }
      case FrameType.RESPONSE_FILE:
        this.fileHandOff(f);
        return;
      case FrameType.RESPONSE_END:
        this.op(() => {
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
  private flushHead(fileLength: number | null): void {
    const h = this.head;
    if (h === null || this.res.headersSent) return;
    this.head = null;
    // Surrounding SP/HTAB is not part of a field value (RFC 9110 §5.5); Django's
    // Set-Cookie comes with a leading space. Gunicorn strips it the same way.
    let headers = h.headers.some(([, v]) => PADDED.test(v))
      ? h.headers.map(([n, v]): [string, string] => [n, v.replace(TRIM, "")])
      : h.headers;
    if (fileLength !== null && !headers.some(([n]) => n.toLowerCase() === "content-length")) {
      headers = [...headers, ["Content-Length", String(fileLength)]];
    }
    this.record.responseHeaders = headers;
    this.res.writeHead(h.status, headers, h.reason);
  }

  /** The terminal frame (or the worker's death): record, free the body, notify once. */
  private finish(outcome: GatewayOutcome): void {
    if (this.terminal) return;
    this.terminal = true;
    if (this.record.outcome === null) this.record.outcome = outcome;
    if (this.sentAt > 0) this.record.appMs = performance.now() - this.sentAt;
    void disposeBody(this.body);
    // Reported once the response's last operation has run (after sendFile, too).
    this.op(() => {
      this.onFinish(this);
    });
  }

  /** Run response operations in order; only sendFile is asynchronous. */
  private op(fn: Op): void {
    this.ops.push(fn);
    if (!this.busy) void this.drainOps();
  }

  private async drainOps(): Promise<void> {
    this.busy = true;
    try {
      for (let fn = this.ops.shift(); fn !== undefined; fn = this.ops.shift()) {
        // Ops run even after the client left: the writer drops the bytes, and the file op
        // must still close its descriptor.
        const r = fn();
        if (r instanceof Promise) await r;
      }
    } finally {
      this.busy = false;
    }
  }
}
