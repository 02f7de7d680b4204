/**
 * Typed errors with a stable code and, where one applies, the HTTP status to answer.
 * Callers pick a status from `err.status`, never from an `instanceof` chain.
 */

export type ErrorCode =
  // request parsing (RFC 9112) — answered and the connection closed
  | "INVALID_REQUEST_LINE"
  | "INVALID_METHOD"
  | "INVALID_VERSION"
  | "UNSUPPORTED_VERSION"
  | "INVALID_HEADER"
  | "INVALID_HEADER_NAME"
  | "OBSOLETE_FOLDING"
  | "REQUEST_LINE_TOO_LONG"
  | "HEADER_FIELDS_TOO_LARGE"
  | "INVALID_CHUNK"
  | "INVALID_FRAMING"
  | "UNSUPPORTED_TRANSFER_CODING"
  | "EXPECTATION_FAILED"
  | "BODY_TOO_LARGE"
  | "INVALID_PROXY_LINE"
  | "FORBIDDEN_PROXY"
  | "INVALID_SCHEME_HEADERS"
  | "NO_MORE_DATA"
  | "TIMEOUT"
  | "BAD_URI"
  // server side
  | "CONFIG"
  | "CLI_USAGE"
  | "WORKER_BOOT"
  | "WORKER_PROTOCOL"
  | "UPSTREAM"
  | "INTERNAL";

export class NarwhalError extends Error {
  readonly code: ErrorCode;
  /** HTTP status to answer, or null to close the connection without a response. */
  readonly status: number | null;

  constructor(code: ErrorCode, message: string, status: number | null = 500) {
    super(message);
    this.name = "NarwhalError";
    this.code = code;
    this.status = status;
  }
}

/** A request the client got wrong: answered with `status` (4xx/5xx), then the socket closes. */
export class HttpError extends NarwhalError {
  constructor(code: ErrorCode, status: number | null, message: string) {
    super(code, message, status);
    this.name = "HttpError";
  }
}

/** A configuration mistake, reported as `message in FILE:LINE` like nginx. */
export class ConfigError extends NarwhalError {
  readonly file: string | null;
  readonly line: number | null;

  constructor(message: string, file: string | null = null, line: number | null = null) {
    super("CONFIG", file === null ? message : `${message} in ${file}:${line ?? 0}`, null);
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
  }
}

/** Command-line misuse: one line on stderr, exit status 2. */
export class UsageError extends NarwhalError {
  constructor(message: string) {
    super("CLI_USAGE", message, null);
    this.name = "UsageError";
  }
}
