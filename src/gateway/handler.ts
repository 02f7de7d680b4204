/**
 * The WSGI gateway as an HTTP `Handler`: read the request body completely (memory, or a
 * temp file beyond client_body_buffer_size), wait for a free worker thread, hand the
 * request over, stream the answer back. A slow uploader costs a socket and some buffer
 * in Node, never a Python thread.
 *
 * @example
 * const handler = createWsgiHandler({ pool: arbiter, log, bodyBufferSize: 1 << 20 });
 * new HttpServer(settings, handler).listen(...)
 */
import { HttpError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Handler, HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import { PoolUnavailable, type Lease, type PoolTicket } from "../arbiter/arbiter.js";
import type { RequestSink } from "../arbiter/worker.js";
import { disposeBody, spoolBody, type SpooledBody } from "./body-spool.js";
import { newRecord, WsgiExchange, type ExchangeOwner, type GatewayRecord } from "./exchange.js";
import { GoneSignal } from "./gone-signal.js";

/** What the gateway needs from the arbiter. */
export interface WorkerPool {
  /**
   * Ask for a thread without a promise (Arbiter.request): the ticket is granted now or
   * from the queue, or refused. Pools without it are driven through dispatch().
   */
  request?(t: PoolTicket): void;
  /** Take a queued ticket back (its client left). */
  withdraw?(t: PoolTicket): boolean;
  /** A lease at once if a thread is free and nobody waits; else null. */
  tryDispatch?(sink: RequestSink): Lease | null;
  dispatch(sink: RequestSink, signal?: AbortSignal): Promise<Lease>;
}

export interface GatewayOptions {
  readonly pool: WorkerPool;
  readonly log: Logger;
  /** client_body_buffer_size: bodies above it are spilled to a temp file. */
  readonly bodyBufferSize: number;
  /** client_body_temp_path; null = os.tmpdir(). */
  readonly bodyTempDir?: string | null;
  /** The workers' uid/gid when they run as another user: spilled bodies are chowned to it. */
  readonly bodyOwner?: { readonly uid: number; readonly gid: number } | null;
  /** Seconds a client is told to wait after a 503 (Retry-After). */
  readonly retryAfter?: number;
  /** Called once per request when the gateway is done with it (access log, metrics). */
  readonly onDone?: (req: IncomingRequest, res: ResponseWriter, record: GatewayRecord) => void;
}

const NO_BODY: SpooledBody = Object.freeze({ kind: "memory", chunks: [], length: 0 } as const);

/**
 * One request in the gateway. Requests without a body (most) are handed over
 * synchronously: no promise, no microtask between the parsed request and the REQUEST frame.
 */
class GatewayRequest implements ExchangeOwner {
  readonly record = newRecord();
  /** Created only if the request has to wait in the queue of a promise-only pool. */
  private gone: GoneSignal | null = null;
  private exchange: WsgiExchange | null = null;
  /** Queued through pool.request(): withdrawn if the client leaves first. */
  private queued = false;

  constructor(
    private readonly o: GatewayOptions,
    private readonly retry: HeaderList,
    private readonly req: IncomingRequest,
    private readonly res: ResponseWriter,
  ) {
    res.onClientGone(() => {
      this.clientGone();
    });
  }

  private clientGone(): void {
    this.gone?.abort(new Error("client gone"));
    const ex = this.exchange;
    if (ex === null) return;
    if (this.queued && this.o.pool.withdraw?.(ex) === true) {
      // Left while queued: no worker was ever involved.
      this.queued = false;
      this.record.outcome = "client_gone";
      this.disposeThenDone(ex.body);
      return;
    }
    ex.clientLeft();
  }

  private done(): void {
    this.o.onDone?.(this.req, this.res, this.record);
  }

  /** done() once a spilled body's temp file is deleted. */
  private disposeThenDone(body: SpooledBody): void {
    if (body.kind !== "file") this.done();
    else
      void disposeBody(body).then(() => {
        this.done();
      });
  }

  /** 1. The whole body, before any worker is involved. */
  run(): void | Promise<void> {
    // Most requests have none: stay synchronous then (no promise, no microtask hop).
    if (this.req.body.empty) return this.handOver(NO_BODY);
    return this.spool();
  }

  private async spool(): Promise<void> {
    const { o, req, res, record } = this;
    const t0 = performance.now();
    let body: SpooledBody;
    try {
      body = await spoolBody(req.body, {
        memoryLimit: o.bodyBufferSize,
        tempDir: o.bodyTempDir ?? null,
        owner: o.bodyOwner ?? null,
      });
    } catch (err) {
      record.outcome = "body_error";
      if (!(err instanceof HttpError)) throw err; // the connection answers 500
      // The connection has answered 413/408/400 itself; answer only if it has not.
      if (err.status !== null && !res.headersSent && !res.clientGone) {
        res.closeAfter();
        res.sendError(err.status);
      }
      this.done();
      return;
    }
    record.bodyMs = performance.now() - t0;
    return this.handOver(body);
  }

  /** 2. A worker thread (at once, or after waiting in the bounded queue); 3. send it. */
  private handOver(body: SpooledBody): void | Promise<void> {
    const { o, req, res, record } = this;
    record.bodyLength = body.length;
    record.bodySpilled = body.kind === "file";
    if (res.clientGone) {
      record.outcome = "client_gone";
      this.disposeThenDone(body);
      return;
    }
    const ex = new WsgiExchange(req, res, body, o.log, record, this);
    this.exchange = ex;
    const pool = o.pool;
    if (pool.request !== undefined) {
      // Granted (ex.start) now or from the queue, or refused (503) now.
      this.queued = true;
      pool.request(ex);
      return;
    }
    const lease = pool.tryDispatch?.(ex) ?? null;
    if (lease !== null) {
      ex.start(lease);
      return;
    }
    return this.waitFor(ex);
  }

  /** Pools without request(): the promise API. */
  private async waitFor(ex: WsgiExchange): Promise<void> {
    this.gone = new GoneSignal();
    let lease: Lease;
    try {
      lease = await this.o.pool.dispatch(ex, this.gone.asAbortSignal());
    } catch (err) {
      if (err instanceof PoolUnavailable) this.refused(ex, err);
      else {
        this.record.outcome = "client_gone";
        this.disposeThenDone(ex.body);
      }
      return;
    }
    ex.start(lease);
  }

  /** ExchangeOwner: the response is complete (or failed). */
  finished(): void {
    this.done();
  }

  /** ExchangeOwner: queue full or pool stopping: 503 + Retry-After. */
  refused(ex: WsgiExchange, err: PoolUnavailable): void {
    this.queued = false;
    if (ex.body.kind === "file") {
      void disposeBody(ex.body).then(() => {
        this.unavailable(err);
      });
    } else this.unavailable(err);
  }

  private unavailable(err: PoolUnavailable): void {
    const { o, req, res, record } = this;
    record.outcome = "unavailable";
    o.log.warning(`${err.message}: 503 for ${req.method} ${req.target}`);
    res.sendError(503, this.retry);
    this.done();
  }
}

export function createWsgiHandler(o: GatewayOptions): Handler {
  const retry: HeaderList = [["Retry-After", String(o.retryAfter ?? 1)]];
  return (req: IncomingRequest, res: ResponseWriter): void | Promise<void> =>
    new GatewayRequest(o, retry, req, res).run();
}
