/**
 * The one error the worker codec throws. A stream that produced it is out of sync and
 * cannot be trusted again: the caller (the arbiter) kills that worker. Requests in
 * flight on it are answered 502 (`status`).
 */
import { NarwhalError } from "../core/errors.js";

export type ProtocolFault =
  | "BAD_RESERVED" // reserved header bits not zero
  | "BAD_FLAGS" // flags set on a type that defines none
  | "UNKNOWN_TYPE"
  | "BAD_DIRECTION" // a node→worker type arriving from a worker (or the reverse)
  | "BAD_REQUEST_ID" // 0 on a request frame, non-zero on a connection frame
  | "PAYLOAD_TOO_LARGE" // above the frame type's cap
  | "BAD_PAYLOAD_LENGTH" // fixed-size payload of the wrong size
  | "TRUNCATED" // a field runs past the end of its payload
  | "TRAILING_BYTES" // bytes left after the last field
  | "TOO_MANY_HEADERS"
  | "STRING_TOO_LONG"
  | "NOT_LATIN1" // a header/target string with a character above U+00FF
  | "BAD_VALUE" // a field outside its range (body mode, status, length...)
  | "BAD_JSON"; // control payload that is not a JSON object

export class ProtocolError extends NarwhalError {
  readonly fault: ProtocolFault;

  constructor(fault: ProtocolFault, message: string) {
    super("WORKER_PROTOCOL", `worker protocol: ${message}`, 502);
    this.name = "ProtocolError";
    this.fault = fault;
  }
}
