/**
 * IncomingRequest and its RequestBody. The body is a pull stream: the connection feeds
 * decoded chunks as the handler asks for them, so an unread body is never buffered past
 * a high-water mark and `100 Continue` goes out only when the handler starts reading.
 */
import type { HttpError } from "../core/errors.js";
import type {
  ConnectionInfo,
  HeaderList,
  IncomingRequest,
  RequestBody,
  TargetForm,
} from "./types.js";
import type { ParsedHead } from "./parser.js";
import { lowerName } from "./parser-fields.js";

/** What the body needs from its connection. */
export interface BodyHost {
  /** The handler started reading (first next()): send 100 Continue if due, pull from the wire. */
  bodyWanted(body: Body): void;
  /** The handler took a chunk off the queue: room to pull more. */
  bodyConsumed(body: Body): void;
}

const NO_CHUNKS: Buffer[] = [];
const NO_TRAILERS: HeaderList = [];

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };

export class Body implements RequestBody, AsyncIterator<Buffer> {
  trailers: HeaderList = NO_TRAILERS;
  bytesRead = 0;
  /** Bytes queued and not yet taken by the handler. */
  queuedBytes = 0;
  started = false;
  done = false;
  private queue: Buffer[] = NO_CHUNKS; // allocated on the first queued chunk
  private error: HttpError | null = null;
  private waiter: Waiter | null = null;

  constructor(
    private readonly host: BodyHost,
    readonly empty: boolean,
  ) {
    if (empty) this.done = true;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (!this.started) {
      this.started = true;
      if (!this.done) this.host.bodyWanted(this);
    }
    const b = this.queue.length > 0 ? this.queue.shift() : undefined;
    if (b !== undefined) {
      this.queuedBytes -= b.length;
      this.host.bodyConsumed(this);
      return Promise.resolve({ done: false, value: b });
    }
    if (this.error !== null) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** `for await ... break`: the rest of the body is discarded by the connection. */
  return(): Promise<IteratorResult<Buffer>> {
    this.abandon();
    return Promise.resolve({ done: true, value: undefined });
  }

  push(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    if (this.done) return; // abandoned: the connection is discarding the rest
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve({ done: false, value: chunk });
    } else {
      if (this.queue === NO_CHUNKS) this.queue = [];
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
    }
  }

  finish(trailers: HeaderList): void {
    this.trailers = trailers;
    this.done = true;
    const w = this.waiter;
    this.waiter = null;
    w?.resolve({ done: true, value: undefined });
  }

  fail(err: HttpError): void {
    if (this.done && this.queue.length === 0 && this.waiter === null) return;
    this.error = err;
    this.queue = NO_CHUNKS;
    this.queuedBytes = 0;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  /** Nobody will read the rest: drop what is queued and end the iteration. */
  abandon(): void {
    this.queue = NO_CHUNKS;
    this.queuedBytes = 0;
    this.done = true;
    const w = this.waiter;
    this.waiter = null;
    w?.resolve({ done: true, value: undefined });
  }
}

export class Request implements IncomingRequest {
  readonly method: string;
  readonly target: string;
  readonly targetForm: TargetForm;
  readonly path: string;
  readonly query: string;
  readonly absoluteAuthority: string | null;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly headers: HeaderList;
  readonly contentLength: number | null;
  readonly chunked: boolean;
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  readonly headBytes: number;
  readonly forwardedScheme: "http" | "https" | null;
  readonly scheme: "http" | "https";

  constructor(
    head: ParsedHead,
    readonly connection: ConnectionInfo,
    readonly startedAt: bigint,
    readonly body: Body,
  ) {
    this.method = head.method;
    this.target = head.target;
    this.targetForm = head.targetForm;
    this.path = head.path;
    this.query = head.query;
    this.absoluteAuthority = head.absoluteAuthority;
    this.versionMajor = head.versionMajor;
    this.versionMinor = head.versionMinor;
    this.headers = head.headers;
    this.contentLength = head.contentLength;
    this.chunked = head.chunked;
    this.keepAlive = head.keepAlive;
    this.expectContinue = head.expectContinue;
    this.headBytes = head.headBytes;
    this.forwardedScheme = head.forwardedScheme;
    this.scheme = connection.tls ? "https" : (head.forwardedScheme ?? "http");
  }

  header(name: string): string | null {
    const want = lowerName(name);
    const h = this.headers;
    for (let i = 0; i < h.length; i++) {
      const f = h[i]!;
      if (f[0].length === want.length && lowerName(f[0]) === want) return f[1];
    }
    return null;
  }
}
