/**
 * The incremental HTTP/1.1 request parser (RFC 9112). Feed it octets with push(), pull
 * events with next(): a request head, body chunks (de-chunked), then "end" with the
 * trailers. Violations throw HttpError carrying the status to answer; after that the
 * parser is dead and the connection must close.
 *
 *   connection-start  [PROXY preamble]                        (parser-proxy.ts)
 *   message           *( CRLF ) request-line CRLF             (parser-line.ts; §2.2 leading empty lines)
 *                     *( field-line CRLF ) CRLF                (parser-fields.ts; §5)
 *                     [ message-body ]                         (§6: Content-Length octets, or chunked §7.1)
 *
 * Every "CRLF" that ends a line may be a bare LF (RFC 9112 §2.2 allows a recipient to
 * accept it, as nginx does); a CR anywhere else is an invalid octet. The CRLF after
 * chunk-data is not a line and must be exact.
 *
 * The parser stops after each message's "end" until next() is called again, which is how
 * the connection keeps pipelined requests in order.
 */
import { HttpError } from "../core/errors.js";
import type { HeaderList, RequestHead } from "./types.js";
import type { HttpLimits } from "./limits.js";
import { parseRequestLine, type RequestLine } from "./parser-line.js";
import { parseFieldLine, fieldValue, FieldCollector } from "./parser-fields.js";
import { detectPreamble, parsePreamble, type ProxyInfo } from "./parser-proxy.js";
import { HEX_VALUE, CR, LF, SP, HTAB, FIELD_OCTET } from "./chars.js";

export interface ParsedHead extends RequestHead {
  /** What followed "#" in the target (never passed to applications). */
  readonly fragment: string;
}

export type ParseEvent =
  | { readonly kind: "proxy"; readonly info: ProxyInfo }
  | { readonly kind: "head"; readonly head: ParsedHead }
  | { readonly kind: "data"; readonly chunk: Buffer }
  | { readonly kind: "end"; readonly trailers: HeaderList };

const enum S {
  Proxy,
  Line,
  Fields,
  Body,
  ChunkSize,
  ChunkData,
  ChunkCrlf,
  Trailers,
  End,
  Dead,
}

/** Longest chunk-size line we wait for (size + extensions); nginx has no extension limit either, but we need one. */
const MAX_CHUNK_LINE = 4096;
/**
 * RFC 9112 §2.2 lets a server ignore empty lines before the request line (SHOULD, for old
 * clients that added CRLF after a POST body). Gunicorn, whose behaviour the corpus
 * records, answers 400; we follow it: a request must start with its request line.
 */
const MAX_LEADING_EMPTY_LINES = 0;

const EMPTY = Buffer.alloc(0);
const NO_TRAILERS: HeaderList = [];
/** Largest header section whose strings the next message on the connection may reuse. */
const REUSE_MAX_HEAD = 8192;
const END_NO_TRAILERS: ParseEvent = { kind: "end", trailers: NO_TRAILERS };

export interface ParserPeer {
  /** The TCP peer address ("" for unix sockets, which are trusted like Gunicorn does). */
  readonly address: string;
}

export class RequestParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private scan = 0;
  private eof = false;
  private state: S;
  private proxyKind: "v1" | "v2" | null = null;

  // per message
  private line: Readonly<RequestLine> | null = null;
  /** The previous message's request line, reused when the next one is the same. */
  private lastLine: Readonly<RequestLine> | null = null;
  /** The previous message's fields, whose strings the next one may reuse. */
  private lastFields: HeaderList = NO_TRAILERS;
  private fields: FieldCollector | null = null;
  private pendingName: string | null = null;
  private pendingValue = "";
  private pendingSize = 0;
  private fieldCount = 0;
  private headBytes = 0;
  private emptyLines = 0;
  private remaining = 0;
  private bodyTotal = 0;
  private trailers: HeaderList = NO_TRAILERS;
  private readonly trustForwarded: boolean;
  private readonly proxyAllowed: boolean;

  constructor(
    private readonly limits: HttpLimits,
    peer: ParserPeer = { address: "" },
  ) {
    this.state = limits.proxyProtocol ? S.Proxy : S.Line;
    this.trustForwarded = peer.address === "" || limits.forwardedAllow(peer.address);
    this.proxyAllowed = peer.address === "" || limits.proxyAllow(peer.address);
  }

  push(data: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = data;
      this.scan -= this.pos;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), data]);
      this.scan -= this.pos;
      this.pos = 0;
    }
    if (this.scan < 0) this.scan = 0;
  }

  /** The client half-closed: what is missing now will never come. */
  finish(): void {
    this.eof = true;
  }

  /** Octets received and not yet consumed. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** True between messages when nothing of the next one (beyond empty lines) has arrived. */
  get betweenMessages(): boolean {
    if (this.state === S.Proxy) return this.pos >= this.buf.length;
    if (this.state !== S.Line) return false;
    for (let i = this.pos; i < this.buf.length; i++)
      if (this.buf[i] !== CR && this.buf[i] !== LF) return false;
    return true;
  }

  /** True while a message body is being parsed. */
  get inBody(): boolean {
    return this.state >= S.Body && this.state <= S.End;
  }

  /** Hand over every octet not consumed yet (protocol switch); the parser is dead afterwards. */
  takeBuffered(): Buffer {
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = this.scan = 0;
    this.state = S.Dead;
    return rest;
  }

  get dead(): boolean {
    return this.state === S.Dead;
  }

  /** The next event, or null when more octets are needed (or the stream ended cleanly). */
  next(): ParseEvent | null {
    try {
      return this.step();
    } catch (e) {
      this.state = S.Dead;
      throw e;
    }
  }

  /** The next LF from `scan`: a byte loop, cheaper than the native indexOf on short lines. */
  private findLF(): number {
    const b = this.buf;
    const n = b.length;
    for (let i = this.scan; i < n; i++) if (b[i] === LF) return i;
    this.scan = n;
    return -1;
  }

  private step(): ParseEvent | null {
    for (;;) {
      switch (this.state) {
        case S.Proxy: {
          const kind = this.proxyKind ?? detectPreamble(this.buf, this.pos, this.buf.length);
          if (kind === "more") {
            if (this.eof) this.state = S.Line;
            else return null;
            continue;
          }
          if (kind === "none") {
            this.state = S.Line;
            continue;
          }
          // Gunicorn checks the peer before looking at the preamble itself.
          if (!this.proxyAllowed)
            throw new HttpError(
              "FORBIDDEN_PROXY",
              403,
              "PROXY preamble from a peer not in proxy_allow_ips",
            );
          this.proxyKind = kind;
          const r = parsePreamble(kind, this.buf, this.pos, this.buf.length);
          if (r === null) {
            if (this.eof)
              throw new HttpError("INVALID_PROXY_LINE", 400, "truncated PROXY preamble");
            return null;
          }
          this.pos += r.consumed;
          this.scan = this.pos;
          this.state = S.Line;
          return { kind: "proxy", info: r.info };
        }

        case S.Line: {
          const lf = this.findLF();
          if (lf < 0) {
            const partial = this.buf.length - this.pos;
            // limit_request_line counts octets without CRLF: one more (a CR) may still be pending.
            if (partial > this.limits.maxRequestLine + 1) {
              throw new HttpError("REQUEST_LINE_TOO_LONG", 414, "request line too long");
            }
            if (this.eof && !this.betweenMessages) {
              throw new HttpError(
                "NO_MORE_DATA",
                null,
                "client closed the connection in the request line",
              );
            }
            return null;
          }
          const end = lf > this.pos && this.buf[lf - 1] === CR ? lf - 1 : lf;
          if (end === this.pos) {
            // RFC 9112 §2.2 (see MAX_LEADING_EMPTY_LINES).
            if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) {
              throw new HttpError(
                "INVALID_REQUEST_LINE",
                400,
                "empty line before the request line",
              );
            }
            this.pos = this.scan = lf + 1;
            continue;
          }
          if (end - this.pos > this.limits.maxRequestLine) {
            throw new HttpError("REQUEST_LINE_TOO_LONG", 414, "request line too long");
          }
          this.line = parseRequestLine(this.buf, this.pos, end, this.limits, this.lastLine);
          this.lastLine = this.line;
          this.headBytes = lf + 1 - this.pos;
          this.pos = this.scan = lf + 1;
          this.fields = new FieldCollector(
            this.limits,
            false,
            this.line.versionMinor,
            this.trustForwarded,
          );
          this.fieldCount = 0;
          this.pendingName = null;
          this.state = S.Fields;
          continue;
        }

        case S.Fields:
        case S.Trailers: {
          const trailer = this.state === S.Trailers;
          const lf = this.findLF();
          if (lf < 0) {
            const partial = this.buf.length - this.pos;
            if (
              partial + 1 > this.limits.maxFieldSize ||
              this.headBytes + partial > this.limits.maxHeaderBytes
            ) {
              throw new HttpError("HEADER_FIELDS_TOO_LARGE", 431, "header field too large");
            }
            if (this.eof) {
              if (trailer)
                throw new HttpError(
                  "INVALID_CHUNK",
                  400,
                  "client closed the connection in the trailers",
                );
              throw new HttpError(
                "NO_MORE_DATA",
                null,
                "client closed the connection in the header section",
              );
            }
            return null;
          }
          const start = this.pos;
          const end = lf > start && this.buf[lf - 1] === CR ? lf - 1 : lf;
          this.headBytes += lf + 1 - start;
          if (this.headBytes > this.limits.maxHeaderBytes) {
            throw new HttpError("HEADER_FIELDS_TOO_LARGE", 431, "header section too large");
          }
          this.pos = this.scan = lf + 1;
          if (end === start) {
            this.flushField();
            if (trailer) {
              this.trailers = this.fields!.list;
              this.state = S.End;
              continue;
            }
            return { kind: "head", head: this.finishHead() };
          }
          const c = this.buf[start]!;
          if (c === SP || c === HTAB) {
            // RFC 9112 §5.2: obs-fold. A server MUST reject it with 400 or replace it by SP.
            if (this.pendingName === null)
              throw new HttpError("INVALID_HEADER", 400, "continuation line without a field");
            if (!this.limits.permitObsoleteFolding)
              throw new HttpError("OBSOLETE_FOLDING", 400, "obsolete line folding");
            this.pendingValue += " " + fieldValue(this.buf, start, end);
            // Gunicorn: the field size is the sum of the folded lines, each with its CRLF.
            this.pendingSize += end - start + 2;
            if (this.pendingSize > this.limits.maxFieldSize) {
              throw new HttpError("HEADER_FIELDS_TOO_LARGE", 431, "header field too large");
            }
            continue;
          }
          this.flushField();
          if (this.fieldCount >= this.limits.maxHeaderFields) {
            throw new HttpError("HEADER_FIELDS_TOO_LARGE", 431, "too many header fields");
          }
          this.fieldCount++;
          const prev = trailer ? undefined : this.lastFields[this.fieldCount - 1];
          const [name, value] = parseFieldLine(this.buf, start, end, this.limits, prev);
          this.pendingSize = end - start + 2;
          if (this.pendingSize > this.limits.maxFieldSize) {
            throw new HttpError("HEADER_FIELDS_TOO_LARGE", 431, "header field too large");
          }
          this.pendingName = name;
          this.pendingValue = value;
          continue;
        }

        case S.Body:
        case S.ChunkData: {
          const avail = this.buf.length - this.pos;
          if (avail === 0) {
            if (this.eof)
              throw new HttpError("NO_MORE_DATA", 400, "client closed the connection in the body");
            return null;
          }
          const n = avail < this.remaining ? avail : this.remaining;
          const chunk = this.buf.subarray(this.pos, this.pos + n);
          this.pos += n;
          this.scan = this.pos;
          this.remaining -= n;
          if (this.remaining === 0) this.state = this.state === S.Body ? S.End : S.ChunkCrlf;
          return { kind: "data", chunk };
        }

        case S.ChunkCrlf: {
          // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
          const avail = this.buf.length - this.pos;
          if (avail >= 1 && this.buf[this.pos] !== CR)
            throw new HttpError("INVALID_CHUNK", 400, "chunk data not followed by CRLF");
          if (avail >= 2 && this.buf[this.pos + 1] !== LF)
            throw new HttpError("INVALID_CHUNK", 400, "chunk data not followed by CRLF");
          if (avail < 2) {
            if (this.eof)
              throw new HttpError("INVALID_CHUNK", 400, "client closed the connection in a chunk");
            return null;
          }
          this.pos = this.scan = this.pos + 2;
          this.state = S.ChunkSize;
          continue;
        }

        case S.ChunkSize: {
          const lf = this.findLF();
          if (lf < 0) {
            if (this.buf.length - this.pos > MAX_CHUNK_LINE)
              throw new HttpError("INVALID_CHUNK", 400, "chunk-size line too long");
            if (this.eof)
              throw new HttpError(
                "INVALID_CHUNK",
                400,
                "client closed the connection in a chunk-size line",
              );
            return null;
          }
          const start = this.pos;
          const end = lf > start && this.buf[lf - 1] === CR ? lf - 1 : lf;
          const size = this.chunkSize(start, end);
          this.pos = this.scan = lf + 1;
          if (size === 0) {
            this.fields = new FieldCollector(this.limits, true, this.line!.versionMinor, false);
            this.fieldCount = 0;
            this.headBytes = 0;
            this.pendingName = null;
            this.state = S.Trailers;
            continue;
          }
          this.bodyTotal += size;
          if (this.limits.maxBodySize > 0 && this.bodyTotal > this.limits.maxBodySize) {
            throw new HttpError(
              "BODY_TOO_LARGE",
              413,
              "chunked body larger than client_max_body_size",
            );
          }
          this.remaining = size;
          this.state = S.ChunkData;
          continue;
        }

        case S.End: {
          const trailers = this.trailers;
          this.resetMessage();
          return trailers === NO_TRAILERS ? END_NO_TRAILERS : { kind: "end", trailers };
        }

        case S.Dead:
          return null;
      }
    }
  }

  /** RFC 9112 §7.1: chunk-size = 1*HEXDIG, then chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ). */
  private chunkSize(start: number, end: number): number {
    const b = this.buf;
    let i = start;
    let size = 0;
    while (i < end && HEX_VALUE[b[i]!] !== 255) {
      // Overflow: refuse before the number would pass 2^53 and lose precision.
      if (size >= 2 ** 49) throw new HttpError("INVALID_CHUNK", 400, "chunk size overflow");
      size = size * 16 + HEX_VALUE[b[i]!]!;
      i++;
    }
    if (i === start) throw new HttpError("INVALID_CHUNK", 400, "invalid chunk size");
    if (i < end) {
      // BWS is only allowed before ";" (Gunicorn: "0 " alone is an invalid size).
      let j = i;
      while (j < end && (b[j] === SP || b[j] === HTAB)) j++;
      if (j === end || b[j] !== 0x3b)
        throw new HttpError("INVALID_CHUNK", 400, "invalid chunk size");
      // RFC 9112 §7.1.1: extensions are ignored, but their octets must be field octets (no CR, NUL, CTL).
      for (j++; j < end; j++) {
        if (FIELD_OCTET[b[j]!] !== 1)
          throw new HttpError("INVALID_CHUNK", 400, "invalid octet in chunk extension");
      }
    }
    return size;
  }

  private flushField(): void {
    if (this.pendingName !== null) {
      this.fields!.add(this.pendingName, this.pendingValue);
      this.pendingName = null;
    }
  }

  private finishHead(): ParsedHead {
    const line = this.line!;
    const fields = this.fields!;
    const f = fields.framing();
    // Only a modest section is kept for the next message (an idle connection holds it).
    this.lastFields = this.headBytes <= REUSE_MAX_HEAD ? fields.list : NO_TRAILERS;
    if (
      f.contentLength !== null &&
      this.limits.maxBodySize > 0 &&
      f.contentLength > this.limits.maxBodySize
    ) {
      throw new HttpError("BODY_TOO_LARGE", 413, "Content-Length larger than client_max_body_size");
    }
    const head: ParsedHead = {
      method: line.method,
      target: line.target,
      targetForm: line.targetForm,
      path: line.path,
      query: line.query,
      fragment: line.fragment,
      absoluteAuthority: line.absoluteAuthority,
      versionMajor: line.versionMajor,
      versionMinor: line.versionMinor,
      headers: fields.list,
      contentLength: f.contentLength,
      chunked: f.chunked,
      keepAlive: f.keepAlive,
      expectContinue: f.expectContinue,
      headBytes: this.headBytes,
      forwardedScheme: f.forwardedScheme,
    };
    this.bodyTotal = 0;
    this.trailers = NO_TRAILERS;
    if (f.chunked) this.state = S.ChunkSize;
    else if (f.contentLength !== null && f.contentLength > 0) {
      this.remaining = f.contentLength;
      this.state = S.Body;
    } else this.state = S.End;
    return head;
  }

  private resetMessage(): void {
    this.state = S.Line;
    this.line = null;
    this.fields = null;
    this.pendingName = null;
    this.emptyLines = 0;
    this.trailers = NO_TRAILERS;
  }
}
