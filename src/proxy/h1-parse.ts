/**
 * Parsing an upstream's HTTP/1.x response (RFC 9112) for the plain-socket client
 * (h1-client.ts): the head (status line and fields, CRLF only, no obs-fold), the body's
 * framing (§6.3) and a chunked decoder. Anything malformed is an InvalidResponse, which
 * the proxy treats as nginx's `invalid_header`.
 */
import type { HeaderList } from "../http/types.js";

/** Largest response head accepted (Node's and undici's default max header size). */
export const MAX_HEAD = 16 * 1024;
/** Longest chunk-size line (with extensions) or trailer line. */
const MAX_LINE = 8 * 1024;

export class InvalidResponse extends Error {}

export interface ResponseHead {
  readonly minor: 0 | 1;
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
  /** A Connection field lists "close". */
  readonly closeToken: boolean;
  /** Transfer-Encoding was present (then Content-Length is ignored, RFC 9112 §6.3). */
  readonly transferEncoding: string | null;
  /** The one Content-Length value, or null. */
  readonly contentLength: number | null;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** Parse the head in buf[0, end) (end = index of the blank line's CRLF CRLF). */
export function parseHead(buf: Buffer, end: number): ResponseHead {
  const text = buf.toString("latin1", 0, end);
  // Lines end at CRLF (a bare CR or LF stays in its line and fails the checks below).
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  const m = STATUS_LINE.exec(eol === text.length ? text : text.slice(0, eol));
  if (m === null) throw new InvalidResponse("upstream sent no valid HTTP/1.0 header");
  const headers: HeaderList = [];
  let closeToken = false;
  let te: string | null = null;
  let cl: string | null = null;
  while (eol < text.length) {
    const start = eol + 2;
    eol = text.indexOf("\r\n", start);
    if (eol < 0) eol = text.length;
    const colon = text.indexOf(":", start);
    if (colon <= start || colon >= eol) throw new InvalidResponse("upstream sent invalid header");
    const name = text.slice(start, colon);
    if (!TOKEN.test(name)) throw new InvalidResponse("upstream sent invalid header");
    const value = trimmedSlice(text, colon + 1, eol);
    if (BAD_VALUE.test(value)) throw new InvalidResponse("upstream sent invalid header");
    headers.push([name, value]);
    const n = name.length;
    // Only three names matter for framing; compare lengths first (no lower-casing per field).
    if (n === 10 && name.toLowerCase() === "connection") {
      if (hasToken(value, "close")) closeToken = true;
    } else if (n === 17 && name.toLowerCase() === "transfer-encoding") {
      te = te === null ? value : `${te}, ${value}`;
    } else if (n === 14 && name.toLowerCase() === "content-length") {
      for (const part of value.split(",")) {
        const v = trimOws(part);
        if (!/^[0-9]{1,15}$/.test(v) || (cl !== null && cl !== v))
          throw new InvalidResponse('upstream sent invalid "Content-Length" header');
        cl = v;
      }
    }
  }
  return {
    minor: m[1] === "1" ? 1 : 0,
    status: Number(m[2]),
    statusText: m[3] ?? "",
    headers,
    closeToken,
    transferEncoding: te,
    contentLength: cl === null ? null : Number(cl),
  };
}

/** s[from, to) without leading and trailing SP/HTAB, sliced once. */
function trimmedSlice(s: string, from: number, to: number): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return s.slice(from, to);
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function hasToken(list: string, token: string): boolean {
  for (const t of list.split(",")) if (trimOws(t).toLowerCase() === token) return true;
  return false;
}

export type Framing =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

const NONE: Framing = { kind: "none" };
const CHUNKED: Framing = { kind: "chunked" };
const CLOSE: Framing = { kind: "close" };

/** How the body of `head` (the reply to `method`) is delimited (RFC 9112 §6.3). */
export function framingOf(head: ResponseHead, method: string): Framing {
  const s = head.status;
  if (method === "HEAD" || s === 204 || s === 304 || (s >= 100 && s < 200)) return NONE;
  if (head.transferEncoding !== null) {
    const codings = head.transferEncoding.split(",");
    return trimOws(codings[codings.length - 1]!).toLowerCase() === "chunked" ? CHUNKED : CLOSE;
  }
  if (head.contentLength !== null) {
    return head.contentLength === 0 ? NONE : { kind: "length", length: head.contentLength };
  }
  return CLOSE;
}

const enum C {
  Size,
  Data,
  DataEnd,
  Trailer,
  Done,
}

/**
 * A chunked body decoder: push() bytes, get the data pieces (subarrays, no copies) through
 * `emit`; true once the last chunk and the trailer section were read. Trailers are
 * dropped (nginx does not pass them either without proxy_pass_trailers).
 */
export class ChunkedDecoder {
  private state = C.Size;
  private left = 0;
  private line = "";
  /** Bytes after the end of the message (none expected from a sane server). */
  extra = 0;

  constructor(private readonly emit: (piece: Buffer) => void) {}

  get done(): boolean {
    return this.state === C.Done;
  }

  push(buf: Buffer): boolean {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case C.Size:
        case C.Trailer: {
          const lf = buf.indexOf(10, i);
          const stop = lf < 0 ? n : lf;
          this.line += buf.toString("latin1", i, stop);
          if (this.line.length > MAX_LINE)
            throw new InvalidResponse("upstream sent too long chunk line");
          if (lf < 0) return false;
          i = lf + 1;
          if (!this.line.endsWith("\r"))
            throw new InvalidResponse("upstream sent invalid chunked response");
          const line = this.line.slice(0, -1);
          this.line = "";
          if (this.state === C.Trailer) {
            if (line === "") {
              this.state = C.Done;
              this.extra = n - i;
              return true;
            }
            if (line.indexOf(":") <= 0 || BAD_VALUE.test(line))
              throw new InvalidResponse("upstream sent invalid chunked response");
            continue;
          }
          const m = /^([0-9A-Fa-f]{1,13})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line);
          if (m === null) throw new InvalidResponse("upstream sent invalid chunked response");
          this.left = parseInt(m[1]!, 16);
          this.state = this.left === 0 ? C.Trailer : C.Data;
          break;
        }
        case C.Data: {
          const take = Math.min(this.left, n - i);
          this.emit(i === 0 && take === n ? buf : buf.subarray(i, i + take));
          this.left -= take;
          i += take;
          if (this.left === 0) this.state = C.DataEnd;
          break;
        }
        case C.DataEnd: {
          // CR LF after the data; the two bytes may arrive apart.
          const want = this.left === 0 ? 13 : 10;
          if (buf[i] !== want) throw new InvalidResponse("upstream sent invalid chunked response");
          i++;
          if (want === 13) this.left = -1;
          else {
            this.left = 0;
            this.state = C.Size;
          }
          break;
        }
        case C.Done:
          this.extra += n - i;
          return true;
      }
    }
    return false;
  }
}
