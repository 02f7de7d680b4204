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
import { PoolUnavailable, type Lease } from "../arbiter/arbiter.js";
import type { RequestSink } from "../arbiter/worker.js";
import { disposeBody, spoolBody, type SpooledBody } from "./body-spool.js";
import { newRecord, WsgiExchange, type GatewayRecord } from "./exchange.js";
import { requestMeta } from "./request-meta.js";
import { GoneSignal } from "./gone-signal.js";

/** What the gateway needs from the arbiter. */
export interface WorkerPool {
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

const RECORDS = new WeakMap<IncomingRequest, GatewayRecord>();

/** The gateway's facts about a request (worker pid, queue time...), for the access log. */
export function gatewayRecord(req: IncomingRequest): GatewayRecord | undefined {
  return RECORDS.get(req);
}

export function createWsgiHandler(o: GatewayOptions): Handler {
  const retry: HeaderList = [["Retry-After", String(o.retryAfter ?? 1)]];
  return async (req: IncomingRequest, res: ResponseWriter): Promise<void> => {
    const record = newRecord();
    RECORDS.set(req, record);
    const done = (): void => o.onDone?.(req, res, record);
    // Created only if the request has to wait in the queue.
    let gone: GoneSignal | null = null;
    let exchange: WsgiExchange | null = null;
    res.onClientGone(() => {
      gone?.abort(new Error("client gone"));
      exchange?.clientLeft();
    });

    // 1. The whole body, before any worker is involved.
    const t0 = performance.now();
    let body: SpooledBody = NO_BODY;
    // Most requests have none: stay synchronous then (no promise, no microtask hop).
    if (!req.body.empty) {
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
        done();
        return;
      }
    }
    record.bodyMs = performance.now() - t0;
    record.bodyLength = body.length;
    record.bodySpilled = body.kind === "file";
    if (res.clientGone) {
      record.outcome = "client_gone";
      await disposeBody(body);
      done();
      return;
    }

    // 2. A worker thread (at once, or after waiting in the bounded queue).
    exchange = new WsgiExchange(req, res, requestMeta(req), body, o.log, record, done);
    let lease: Lease | null = o.pool.tryDispatch?.(exchange) ?? null;
    if (lease === null) {
      gone = new GoneSignal();
      try {
        lease = await o.pool.dispatch(exchange, gone.asAbortSignal());
      } catch (err) {
        await disposeBody(body);
        if (err instanceof PoolUnavailable) {
          record.outcome = "unavailable";
          o.log.warning(`${err.message}: 503 for ${req.method} ${req.target}`);
          res.sendError(503, retry);
        } else record.outcome = "client_gone";
        done();
        return;
      }
    }

    // 3. Send it; the exchange streams the reply as frames arrive.
    exchange.start(lease);
  };
}
