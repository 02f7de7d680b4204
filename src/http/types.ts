import type { Duplex } from "node:stream";

/**
 * The contract between the HTTP/1.1 front end and everything that answers requests
 * (static files, the proxy, the WSGI gateway). Handlers see parsed, validated requests
 * and write through a ResponseWriter that owns framing (Content-Length / chunked /
 * close-delimited), Date/Server headers, HEAD and 1xx/204/304 body suppression.
 */

/** Header fields in wire order; names as the client sent them, values trimmed of SP/HTAB. */
export type HeaderList = Array<[name: string, value: string]>;

export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

export interface ConnectionInfo {
  /** Monotonic connection serial number (nginx `$connection`). */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** "unix" listeners report remoteAddress "" and the socket path as localAddress. */
  readonly family: "IPv4" | "IPv6" | "unix";
  readonly tls: boolean;
  /** Requests served on this connection so far, including the current one. */
  readonly requests: number;
  /**
   * The TCP peer itself. Equals remoteAddress/remotePort unless a PROXY protocol
   * preamble named another client (then remoteAddress/remotePort are the client's).
   */
  readonly peerAddress: string;
  readonly peerPort: number;
}

export interface RequestHead {
  readonly method: string;
  /** The request-target exactly as sent (WSGI RAW_URI). */
  readonly target: string;
  readonly targetForm: TargetForm;
  /** Raw path, not percent-decoded; "*" for asterisk-form, "" for authority-form. */
  readonly path: string;
  /** Raw query without "?", "" if none. */
  readonly query: string;
  /** For absolute-form: scheme and authority from the target; else null. */
  readonly absoluteAuthority: string | null;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly headers: HeaderList;
  /** Declared Content-Length, or null when absent or chunked. */
  readonly contentLength: number | null;
  readonly chunked: boolean;
  /** Whether the connection may stay open after this exchange (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  /** Bytes of request line + header section as received (nginx `$request_length` start). */
  readonly headBytes: number;
  /**
   * Scheme asserted by X-Forwarded-Proto / X-Forwarded-Protocol / X-Forwarded-Ssl from a
   * peer in forwarded_allow_ips (consistent, else the request was rejected); null when absent
   * or untrusted.
   */
  readonly forwardedScheme: "http" | "https" | null;
}

export interface IncomingRequest extends RequestHead {
  readonly connection: ConnectionInfo;
  /** process.hrtime.bigint() when the first byte of this request arrived. */
  readonly startedAt: bigint;
  readonly body: RequestBody;
  /** "https" on a TLS listener or when a trusted proxy said so (forwardedScheme), else "http". */
  readonly scheme: "http" | "https";
  /** First value of a header, by case-insensitive name; null when absent. */
  header(name: string): string | null;
}

/**
 * The decoded request body. Reading it is what sends `100 Continue` (only when the
 * handler really reads). Iteration throws HttpError on 413 (client_max_body_size),
 * 408 (client_body_timeout) or a framing error; the connection then closes.
 */
export interface RequestBody extends AsyncIterable<Buffer> {
  /** True when the request has no body at all (no CL, or CL 0, and not chunked). */
  readonly empty: boolean;
  /** Trailer fields of a chunked body; filled once the body has been read. */
  readonly trailers: HeaderList;
  /** Bytes of body consumed from the wire so far. */
  readonly bytesRead: number;
}

export interface ResponseWriter {
  readonly headersSent: boolean;
  /** Status sent (or to be sent); 0 before writeHead. */
  readonly status: number;
  /** Body bytes written so far (nginx `$body_bytes_sent`). */
  readonly bodyBytesSent: number;
  /** All bytes written so far, head included (nginx `$bytes_sent`). */
  readonly bytesSent: number;
  /** True once the client has gone away; writes are then dropped. */
  readonly clientGone: boolean;

  /**
   * Send the status line and headers. Framing is chosen here: a Content-Length header is
   * honoured; else chunked on HTTP/1.1; else close-delimited. Hop-by-hop framing headers
   * from the caller (Transfer-Encoding, Connection) are replaced by the writer's own.
   */
  writeHead(status: number, headers: HeaderList, reason?: string): void;
  /** Send an interim 1xx response (e.g. 103). */
  writeInformational(status: number, headers: HeaderList): void;
  /** Returns false when the socket buffer is full; await drain() before writing more. */
  write(chunk: Buffer | string): boolean;
  drain(): Promise<void>;
  /** Finish the response (optionally with a last chunk). */
  end(chunk?: Buffer | string): void;
  /** Stream bytes [start, end) of an open file, honouring backpressure; resolves when sent. */
  sendFile(fd: number, start: number, end: number): Promise<void>;
  /** nginx-like small HTML error page with the given status, then end(). */
  sendError(status: number, extraHeaders?: HeaderList): void;
  /** Close the connection after this response, whatever keep-alive says. */
  closeAfter(): void;
  /** Abort the exchange: close the socket now without completing the response. */
  abort(): void;
  /** Register a callback run once if the client disconnects before the response ends. */
  onClientGone(cb: () => void): void;
  /**
   * Switch protocols (RFC 9110 §7.8, §15.2.2) — used by the proxy to tunnel WebSocket
   * and other `Upgrade` requests. Writes `101 Switching Protocols` with `headers` (the
   * writer adds nothing but the status line) and hands the connection over: HTTP
   * processing and every timer stop for good, and the caller owns `socket`. `head` holds
   * any bytes the client sent after this request's head. Only valid before writeHead.
   * Optional: a writer that cannot hand its socket over leaves it undefined.
   */
  upgrade?(headers: HeaderList): UpgradedConnection;
}

/** The raw connection after a 101 (see ResponseWriter.upgrade). */
export interface UpgradedConnection {
  readonly socket: Duplex;
  readonly head: Buffer;
}

export type Handler = (req: IncomingRequest, res: ResponseWriter) => void | Promise<void>;
