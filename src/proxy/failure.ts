/**
 * What both upstream clients (undici's and the plain-socket one) hand the proxy: a
 * failure in proxy_next_upstream's terms, the response head with a pull-style body, and
 * the request to send.
 */
import type { HeaderList } from "../http/types.js";

/** Why a try failed, in proxy_next_upstream's terms. */
export type FailureKind = "error" | "timeout" | "invalid_header";

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The request head had started going to the upstream (nginx `request_sent`). */
    readonly sent: boolean,
    /** A response had started (headers received): no retry is possible. */
    readonly afterHeaders: boolean,
  ) {
    super(message);
    this.name = "UpstreamFailure";
  }
}

/** Where the response body goes; `data` returns false to pause the upstream. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(err: UpstreamFailure): void;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
  /** Attach the consumer; buffered chunks are replayed first. */
  attach(sink: BodySink): void;
  /** Let a paused upstream send more. */
  resume(): void;
  /** Drop the response (closes the upstream connection). */
  abort(): void;
}

export interface DispatchRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderList;
  readonly body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer> | null;
  /** No keep-alive for this exchange (Connection: close). */
  readonly close: boolean;
  readonly upgrade: string | null;
  readonly readTimeout: number;
  readonly sendTimeout: number;
}
