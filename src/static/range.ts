/**
 * Byte ranges (RFC 9110 §14), decided exactly as nginx's ngx_http_range_parse():
 * - not `bytes=` → ignore the header (200);
 * - a syntax error, or no satisfiable range → 416 with `Content-Range: bytes *\/N`;
 * - `0-` style ranges covering an empty file, more ranges than `max_ranges`, or ranges
 *   whose total exceeds the file (overlap abuse) → ignore the header (200);
 * - otherwise 206, one range as a single part, several as multipart/byteranges
 *   (kept in request order, not merged, as nginx does).
 */

export interface ByteRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export type RangeDecision =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly ranges: readonly ByteRange[] }
  | { readonly kind: "unsatisfiable" };

const FULL: RangeDecision = { kind: "full" };
const UNSATISFIABLE: RangeDecision = { kind: "unsatisfiable" };

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Decide what a Range header asks of a representation of `size` bytes.
 * `maxRanges` null means unlimited; 0 means ranges are disabled (the caller should not
 * even call this, nor send Accept-Ranges).
 * @example parseRange("bytes=0-99", 1000, null) // { kind: "partial", ranges: [{ start: 0, end: 100 }] }
 */
export function parseRange(header: string, size: number, maxRanges: number | null): RangeDecision {
  if (maxRanges === 0) return FULL;
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== "bytes=") return FULL;
  let budget = maxRanges ?? Number.MAX_SAFE_INTEGER;
  const s = header;
  const at = (i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  let p = 6;
  let total = 0;
  const ranges: ByteRange[] = [];
  // Bounded: every iteration consumes at least one character.
  for (;;) {
    let start = 0;
    let end = 0;
    let suffix = false;
    let open = false;
    while (at(p) === 0x20) p++;
    if (at(p) !== 0x2d /* - */) {
      if (!isDigit(at(p))) return UNSATISFIABLE;
      while (isDigit(at(p))) {
        start = start * 10 + (at(p++) - 0x30);
        if (start > Number.MAX_SAFE_INTEGER) return UNSATISFIABLE;
      }
      while (at(p) === 0x20) p++;
      if (at(p++) !== 0x2d) return UNSATISFIABLE;
      while (at(p) === 0x20) p++;
      if (at(p) === 0x2c /* , */ || p >= s.length) {
        end = size;
        open = true;
      }
    } else {
      suffix = true;
      p++;
    }
    if (!open) {
      if (!isDigit(at(p))) return UNSATISFIABLE;
      while (isDigit(at(p))) {
        end = end * 10 + (at(p++) - 0x30);
        if (end > Number.MAX_SAFE_INTEGER) return UNSATISFIABLE;
      }
      while (at(p) === 0x20) p++;
      if (at(p) !== 0x2c && p < s.length) return UNSATISFIABLE;
      if (suffix) {
        start = end < size ? size - end : 0;
        end = size - 1;
      }
      end = end >= size ? size : end + 1;
    }
    if (start < end) {
      ranges.push({ start, end });
      total += end - start;
      if (budget-- === 0) return FULL;
    } else if (start === 0) {
      // e.g. "bytes=0-" or "bytes=-5" on an empty file: serve it whole.
      return FULL;
    }
    if (at(p++) !== 0x2c) break;
  }
  if (ranges.length === 0) return UNSATISFIABLE;
  if (total > size) return FULL;
  return { kind: "partial", ranges };
}

/** `bytes 0-99/1000` */
export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end - 1}/${size}`;
}

/** The 416 answer's `Content-Range: bytes *\/1000` (RFC 9110 §14.4). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

export interface MultipartPart {
  /** Delimiter and part header fields, written before the bytes of the range. */
  readonly head: string;
  readonly range: ByteRange;
}

export interface MultipartPlan {
  /** `multipart/byteranges; boundary=...` */
  readonly contentType: string;
  readonly contentLength: number;
  readonly parts: readonly MultipartPart[];
  /** The close delimiter. */
  readonly tail: string;
}

let boundarySerial = Math.floor(Math.random() * 1e9);

/** nginx's boundary: a 20-digit zero-padded serial number (ngx_next_temp_number). */
export function nextBoundary(): string {
  boundarySerial = (boundarySerial + 1) % Number.MAX_SAFE_INTEGER;
  return String(boundarySerial).padStart(20, "0");
}

/**
 * Lay out a multipart/byteranges body in nginx's format (ngx_http_range_multipart_header):
 * each part is `CRLF --B CRLF Content-Type: T CRLF Content-Range: bytes a-b/N CRLF CRLF`
 * followed by the bytes, and the body ends with `CRLF --B-- CRLF`.
 */
export function planMultipart(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string | null,
  boundary: string,
): MultipartPlan {
  const typeLine =
    contentType === null || contentType === "" ? "" : `Content-Type: ${contentType}\r\n`;
  let length = 0;
  const parts = ranges.map((range) => {
    const head = `\r\n--${boundary}\r\n${typeLine}Content-Range: ${contentRange(range, size)}\r\n\r\n`;
    length += Buffer.byteLength(head, "latin1") + (range.end - range.start);
    return { head, range };
  });
  const tail = `\r\n--${boundary}--\r\n`;
  length += tail.length;
  return {
    contentType: `multipart/byteranges; boundary=${boundary}`,
    contentLength: length,
    parts,
    tail,
  };
}
