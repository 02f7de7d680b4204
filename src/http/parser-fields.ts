/**
 * Field lines (RFC 9112 §5) and what the header section means for framing and
 * connection handling (RFC 9112 §6, §9; RFC 9110 §5.3, §6.5.1, §10.1.1).
 */
import { HttpError } from "../core/errors.js";
import type { HeaderList } from "./types.js";
import type { HttpLimits } from "./limits.js";
import { TCHAR, FIELD_OCTET, SP, HTAB, COLON, latin1, sameOctets } from "./chars.js";

/** Parse `field-name ":" OWS field-value OWS` from one line (terminator removed). */
export function parseFieldLine(
  buf: Buffer,
  start: number,
  end: number,
  limits: HttpLimits,
  prev?: readonly [string, string],
): [string, string] {
  let colon = start;
  while (colon < end && buf[colon] !== COLON) colon++;
  // Gunicorn: a line without a colon, or with an empty name, is an invalid header.
  if (colon >= end) throw new HttpError("INVALID_HEADER", 400, "header line without colon");
  if (colon === start) throw new HttpError("INVALID_HEADER", 400, "empty header name");
  let nameEnd = colon;
  // RFC 9112 §5.1: no whitespace between name and colon; a server MUST answer 400.
  // strip_header_spaces (unsafe, Gunicorn compatibility) tolerates it.
  if (limits.stripHeaderSpaces) {
    while (nameEnd > start && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === HTAB)) nameEnd--;
    if (nameEnd === start) throw new HttpError("INVALID_HEADER_NAME", 400, "empty header name");
  }
  // RFC 9110 §5.1: field-name = token.
  for (let i = start; i < nameEnd; i++) {
    if (TCHAR[buf[i]!] !== 1)
      throw new HttpError("INVALID_HEADER_NAME", 400, "invalid header name");
  }
  // Keep-alive clients repeat their fields: the same octets as the previous message's field
  // at this position reuse its (immutable) strings instead of new ones.
  const name =
    prev !== undefined && sameOctets(buf, start, nameEnd, prev[0])
      ? prev[0]
      : latin1(buf, start, nameEnd);
  return [name, fieldValue(buf, colon + 1, end, prev?.[1])];
}

/** RFC 9110 §5.5: trim OWS, then every octet must be field-vchar, SP or HTAB (no CR, LF, NUL, CTL, DEL). */
export function fieldValue(buf: Buffer, start: number, end: number, prev?: string): string {
  while (start < end && (buf[start] === SP || buf[start] === HTAB)) start++;
  while (end > start && (buf[end - 1] === SP || buf[end - 1] === HTAB)) end--;
  for (let i = start; i < end; i++) {
    if (FIELD_OCTET[buf[i]!] !== 1)
      throw new HttpError("INVALID_HEADER", 400, "invalid octet in header value");
  }
  if (prev !== undefined && sameOctets(buf, start, end, prev)) return prev;
  return latin1(buf, start, end);
}

const LOWER = new Map<string, string>();

/**
 * A field name in lower case, memoised: the parser hands out the same name strings
 * message after message, so this is a lookup instead of a new string. Bounded.
 */
export function lowerName(name: string): string {
  let l = LOWER.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (name.length > 64) return l;
    if (LOWER.size >= 512) LOWER.clear();
    LOWER.set(name, l);
  }
  return l;
}

/** What a field name means to the collector (low bits), plus flags. */
const K = {
  Plain: 0,
  Host: 1,
  ContentType: 2,
  ContentLength: 3,
  TransferEncoding: 4,
  Connection: 5,
  Expect: 6,
  // Gunicorn's secure_scheme_headers, in SECURE_SCHEME's order.
  ForwardedProtocol: 7,
  ForwardedProto: 8,
  ForwardedSsl: 9,
} as const;
const KIND = 0x0f;
/** RFC 9110 §6.5.1: must not appear in a trailer (routing, framing, auth). Gunicorn's list. */
const FORBIDDEN_IN_TRAILER = 0x10;
/** The name contains "_" (header_map applies). */
const UNDERSCORE = 0x20;

const KIND_BY_LOWER = new Map<string, number>([
  ["host", K.Host | FORBIDDEN_IN_TRAILER],
  ["content-type", K.ContentType],
  ["content-length", K.ContentLength | FORBIDDEN_IN_TRAILER],
  ["transfer-encoding", K.TransferEncoding | FORBIDDEN_IN_TRAILER],
  ["connection", K.Connection],
  ["expect", K.Expect],
  ["x-forwarded-protocol", K.ForwardedProtocol],
  ["x-forwarded-proto", K.ForwardedProto],
  ["x-forwarded-ssl", K.ForwardedSsl],
  ["trailer", FORBIDDEN_IN_TRAILER],
  ["authorization", FORBIDDEN_IN_TRAILER],
  ["te", FORBIDDEN_IN_TRAILER],
]);

/** Gunicorn's secure_scheme_headers: the value that means https, by K - ForwardedProtocol. */
const SECURE_SCHEME: readonly string[] = ["ssl", "https", "on"];

const KINDS = new Map<string, number>();

/**
 * The kind and flags of a field name, memoised by the name as received: clients repeat
 * their names (and the parser reuses the previous message's name strings), so this is
 * usually one lookup. Bounded.
 */
function nameKind(name: string): number {
  let k = KINDS.get(name);
  if (k === undefined) {
    k = (KIND_BY_LOWER.get(lowerName(name)) ?? 0) | (name.includes("_") ? UNDERSCORE : 0);
    if (name.length <= 64) {
      if (KINDS.size >= 512) KINDS.clear();
      KINDS.set(name, k);
    }
  }
  return k;
}

/** Gunicorn's default forwarder_headers. */
const DEFAULT_FORWARDER_HEADERS: readonly string[] = ["SCRIPT_NAME", "PATH_INFO"];

/** Registered transfer codings (RFC 9112 §7) we recognise but do not decode. */
const KNOWN_CODINGS = new Set(["gzip", "x-gzip", "deflate", "compress", "x-compress"]);

export interface Framing {
  contentLength: number | null;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  forwardedScheme: "http" | "https" | null;
}

/**
 * Collects the header (or trailer) section of one message, applies the per-field policies
 * and, at the end, decides the framing. One instance per message.
 */
export class FieldCollector {
  readonly list: HeaderList = [];
  private seen = 0; // bit set of SINGLETONS seen: 1 host, 2 content-type
  private cl: string | null = null;
  private te: string[] | null = null;
  private connClose = false;
  private connKeepAlive = false;
  private expectContinue = false;
  private scheme: "http" | "https" | null = null;

  private readonly forwarders: readonly string[];

  constructor(
    private readonly limits: HttpLimits,
    private readonly trailer: boolean,
    private readonly versionMinor: number,
    private readonly trustForwarded: boolean,
  ) {
    this.forwarders = limits.forwarderHeaders ?? DEFAULT_FORWARDER_HEADERS;
  }

  add(name: string, value: string): void {
    const k = nameKind(name);
    if (this.trailer) {
      if (k & FORBIDDEN_IN_TRAILER) {
        throw new HttpError("INVALID_HEADER_NAME", 400, `forbidden trailer field ${name}`);
      }
    } else if ((k & KIND) !== K.Plain) {
      this.special(k & KIND, name, value);
    }
    // Field names with "_" can be confused with "-" ones once mapped to CGI/WSGI names.
    // A trusted front end may still send its forwarder headers (Gunicorn's forwarder_headers).
    if (k & UNDERSCORE && !(this.trustForwarded && this.forwarders.includes(name.toUpperCase()))) {
      if (this.limits.headerMap === "drop") return;
      if (this.limits.headerMap === "refuse") {
        throw new HttpError("INVALID_HEADER_NAME", 400, `header name with underscore: ${name}`);
      }
    }
    this.list.push([name, value]);
  }

  private special(kind: number, name: string, value: string): void {
    switch (kind) {
      case K.Host:
      case K.ContentType: {
        // RFC 9110 §5.3: singleton fields; a repeat makes the message ambiguous (Gunicorn refuses).
        const bit = kind === K.Host ? 1 : 2;
        if (this.seen & bit) throw new HttpError("INVALID_HEADER", 400, `duplicate ${name} header`);
        this.seen |= bit;
        return;
      }
      case K.ContentLength:
        // RFC 9112 §6.3 (5): differing or repeated lengths are unrecoverable; we refuse every repeat.
        if (this.cl !== null)
          throw new HttpError("INVALID_FRAMING", 400, "duplicate Content-Length");
        this.cl = value;
        return;
      case K.TransferEncoding:
        (this.te ??= []).push(...value.split(","));
        return;
      case K.Connection:
        for (const tok of value.split(",")) {
          const t = tok.trim().toLowerCase();
          if (t === "close") this.connClose = true;
          else if (t === "keep-alive") this.connKeepAlive = true;
        }
        return;
      case K.Expect:
        // RFC 9110 §10.1.1: the value is case-insensitive; 100-continue in HTTP/1.0 MUST be
        // ignored; any other expectation gets 417.
        if (value.toLowerCase() === "100-continue") {
          if (this.versionMinor >= 1) this.expectContinue = true;
        } else {
          throw new HttpError(
            "EXPECTATION_FAILED",
            417,
            `unsupported expectation ${JSON.stringify(value)}`,
          );
        }
        return;
      default: {
        if (!this.trustForwarded) return;
        const secure = SECURE_SCHEME[kind - K.ForwardedProtocol]!;
        const s = value === secure ? "https" : "http";
        if (this.scheme !== null && this.scheme !== s) {
          throw new HttpError("INVALID_SCHEME_HEADERS", 400, "contradictory scheme headers");
        }
        this.scheme = s;
      }
    }
  }

  /** Decide the message framing (RFC 9112 §6.1, §6.3) once the header section is complete. */
  framing(): Framing {
    const minor = this.versionMinor;
    let chunked = false;
    let contentLength: number | null = null;
    if (this.te !== null) {
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means broken framing.
      if (minor === 0) throw new HttpError("INVALID_FRAMING", 400, "Transfer-Encoding in HTTP/1.0");
      // RFC 9112 §6.1 / §11.2: CL with TE is a smuggling vector; close after answering 400.
      if (this.cl !== null)
        throw new HttpError("INVALID_FRAMING", 400, "Content-Length with Transfer-Encoding");
      // Empty list elements are not ignored here: like nginx and Gunicorn, anything but
      // well-formed codings is refused (an odd spelling is how framing desyncs start).
      const codings = this.te.map((c) => c.trim().toLowerCase());
      let unsupported: string | null = null;
      for (const c of codings) {
        if (c === "chunked") {
          // RFC 9112 §6.1: chunked MUST NOT be applied more than once.
          if (chunked) throw new HttpError("INVALID_FRAMING", 400, "chunked applied twice");
          chunked = true;
        } else if (c === "identity" || KNOWN_CODINGS.has(c)) {
          // RFC 9112 §6.1: chunked MUST be the final coding.
          if (chunked)
            throw new HttpError("INVALID_FRAMING", 400, "chunked is not the final coding");
          // identity: the old no-op coding (deregistered), ignored before chunked like Gunicorn.
          if (c !== "identity") unsupported ??= c;
        } else {
          // RFC 9112 §6.1: a coding we do not understand → 501 (Gunicorn answers at once).
          throw new HttpError("UNSUPPORTED_TRANSFER_CODING", 501, `unknown transfer coding ${c}`);
        }
      }
      // Registered codings we do not decode (gzip, deflate, compress) → 501 as well.
      if (unsupported !== null) {
        throw new HttpError(
          "UNSUPPORTED_TRANSFER_CODING",
          501,
          `unsupported transfer coding ${unsupported}`,
        );
      }
      // RFC 9112 §6.3 (4): a request whose final coding is not chunked has no reliable length → 400.
      if (!chunked) throw new HttpError("INVALID_FRAMING", 400, "chunked is not the final coding");
    } else if (this.cl !== null) {
      // RFC 9110 §8.6: Content-Length = 1*DIGIT.
      if (!/^[0-9]{1,15}$/.test(this.cl))
        throw new HttpError("INVALID_FRAMING", 400, "invalid Content-Length");
      contentLength = Number(this.cl);
    }
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    if (this.limits.requireHost && minor >= 1 && !(this.seen & 1)) {
      throw new HttpError("INVALID_HEADER", 400, "HTTP/1.1 request without Host");
    }
    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    const keepAlive = !this.connClose && (minor >= 1 || this.connKeepAlive);
    return {
      contentLength,
      chunked,
      keepAlive,
      expectContinue: this.expectContinue,
      forwardedScheme: this.scheme,
    };
  }
}
