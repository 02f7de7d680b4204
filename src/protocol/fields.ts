/**
 * Binary field primitives for REQUEST and RESPONSE_HEAD payloads: big-endian integers and
 * string tables (a run of u16 lengths, then the strings back to back, so the Python side
 * slices them all out with one struct.unpack and one decode). Header strings are latin-1
 * (one char per octet, WSGI's "native strings"): a JS string with a char above U+00FF is
 * refused, never mangled.
 */
import { ProtocolError } from "./errors.js";

/** Longest `str` field: the u16 length prefix. */
export const MAX_STRING = 0xffff;
/** Most header fields in a REQUEST or RESPONSE_HEAD. */
export const MAX_HEADERS = 4096;

// eslint-disable-next-line no-control-regex
const NOT_LATIN1 = /[^\u0000-\u00ff]/;

export function latin1Length(s: string, what: string): number {
  if (s.length > MAX_STRING)
    throw new ProtocolError("STRING_TOO_LONG", `${what} of ${s.length} bytes (max ${MAX_STRING})`);
  if (NOT_LATIN1.test(s))
    throw new ProtocolError("NOT_LATIN1", `${what} has a character above U+00FF`);
  return s.length;
}

export function utf8Length(s: string, what: string): number {
  const n = Buffer.byteLength(s, "utf8");
  if (n > MAX_STRING)
    throw new ProtocolError("STRING_TOO_LONG", `${what} of ${n} bytes (max ${MAX_STRING})`);
  return n;
}

/** Sequential writer into a Buffer sized in advance. */
export class FieldWriter {
  off: number;
  constructor(
    readonly buf: Buffer,
    offset: number,
  ) {
    this.off = offset;
  }
  u8(v: number): void {
    this.buf[this.off++] = v;
  }
  u16(v: number): void {
    this.buf.writeUInt16BE(v, this.off);
    this.off += 2;
  }
  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.off);
    this.off += 4;
  }
  /** Integers up to 2^53-1 as u64 BE. */
  u64(v: number): void {
    this.buf.writeUInt32BE(Math.floor(v / 0x100000000), this.off);
    this.buf.writeUInt32BE(v >>> 0, this.off + 4);
    this.off += 8;
  }
}

/** Sequential reader over one payload; every read is bounds-checked (TRUNCATED). */
export class FieldReader {
  off = 0;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}
  private need(n: number): void {
    if (this.off + n > this.buf.length) {
      throw new ProtocolError("TRUNCATED", `${this.what} ends inside a field at byte ${this.off}`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(field: string): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.off);
    const lo = this.buf.readUInt32BE(this.off + 4);
    this.off += 8;
    if (hi > 0x1fffff) throw new ProtocolError("BAD_VALUE", `${this.what} ${field} above 2^53-1`);
    return hi * 0x100000000 + lo;
  }

  end(): void {
    if (this.off !== this.buf.length) {
      throw new ProtocolError(
        "TRAILING_BYTES",
        `${this.buf.length - this.off} bytes after the last field of ${this.what}`,
      );
    }
  }
}

/**
 * Write a string table at `off`: n u16 lengths, then the n strings. `lens[i]` comes from
 * latin1Length/utf8Length; `utf8At` is the one index encoded as UTF-8 (-1 for none).
 * Returns the offset after the table.
 */
export function writeTable(
  buf: Buffer,
  off: number,
  strs: readonly string[],
  lens: readonly number[],
  utf8At = -1,
): number {
  let at = off + 2 * strs.length;
  for (let i = 0; i < strs.length; i++) {
    const n = lens[i] as number;
    buf.writeUInt16BE(n, off + 2 * i);
    if (n > 0) at += buf.write(strs[i] as string, at, n, i === utf8At ? "utf8" : "latin1");
  }
  return at;
}

/**
 * Read a string table of `n` entries at `off`; returns the strings and the offset after
 * the table. TRUNCATED when the lengths or the strings run past the payload.
 */
export function readTable(
  buf: Buffer,
  off: number,
  n: number,
  what: string,
  utf8At = -1,
): { strs: string[]; end: number } {
  let at = off + 2 * n;
  if (at > buf.length) throw new ProtocolError("TRUNCATED", `${what} ends inside its length table`);
  const strs = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt16BE(off + 2 * i);
    if (at + len > buf.length)
      throw new ProtocolError("TRUNCATED", `${what} ends inside string ${i}`);
    strs[i] = len === 0 ? "" : buf.toString(i === utf8At ? "utf8" : "latin1", at, at + len);
    at += len;
  }
  return { strs, end: at };
}
