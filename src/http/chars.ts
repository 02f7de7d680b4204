/**
 * Octet classes of RFC 9110 / RFC 9112 as 256-entry lookup tables, so the parser checks
 * each byte with one array load instead of a regular expression.
 */

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const ALPHA = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const DIGIT = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TCHAR = table(
  (c) => ALPHA(c) || DIGIT(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)),
);

/**
 * RFC 9110 §5.5: field-value octets: field-vchar (VCHAR / obs-text) plus SP and HTAB.
 * Everything else (CTLs incl. CR, LF, NUL, and DEL) is rejected.
 */
export const FIELD_OCTET = table((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f));

/**
 * Octets allowed in a request-target. RFC 3986 is stricter, but like nginx and gunicorn we
 * accept any visible octet (including obs-text and `"`) and reject CTLs, SP and DEL,
 * which are what make a target ambiguous on the wire.
 */
export const TARGET_OCTET = table((c) => c > 0x20 && c !== 0x7f);

/** RFC 3986 §3.2.2 reg-name: unreserved / pct-encoded / sub-delims. */
export const REG_NAME = table(
  (c) => ALPHA(c) || DIGIT(c) || "-._~%!$&'()*+,;=".includes(String.fromCharCode(c)),
);

/** Inside "[ ]" of an IP-literal: HEXDIG, ":", "." (IPv4 tail), and IPvFuture / zone-id characters. */
export const IP_LITERAL = table(
  (c) => ALPHA(c) || DIGIT(c) || ":.-_~%!$&'()*+,;=".includes(String.fromCharCode(c)),
);

/** RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
export const SCHEME_CHAR = table(
  (c) => ALPHA(c) || DIGIT(c) || c === 0x2b || c === 0x2d || c === 0x2e,
);

/** Hex digit value, or 255 when not a HEXDIG. */
export const HEX_VALUE = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let c = 0; c < 256; c++) {
    if (DIGIT(c)) t[c] = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) t[c] = c - 0x41 + 10;
    else if (c >= 0x61 && c <= 0x66) t[c] = c - 0x61 + 10;
  }
  return t;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

type Latin1Buffer = Buffer & {
  latin1Slice?: (start: number, end: number) => string;
  latin1Write?: (s: string, offset: number) => number;
};

/**
 * `buf.toString("latin1", start, end)` without the argument-checking wrapper (Node's own
 * Buffer.prototype.latin1Slice, present since Node 0.x; falls back when absent).
 */
export const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Latin1Buffer).latin1Slice === "function"
    ? (buf, start, end) => (buf as Latin1Buffer).latin1Slice!(start, end)
    : (buf, start, end) => buf.toString("latin1", start, end);

/** True when buf[start, end) holds exactly the latin1 octets of `s` (no string is made). */
export function sameOctets(buf: Buffer, start: number, end: number, s: string): boolean {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[start + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** `buf.write(s, offset, "latin1")` without the argument-checking wrapper (as latin1()). */
export const latin1Write: (buf: Buffer, s: string, offset: number) => number =
  typeof (Buffer.prototype as Latin1Buffer).latin1Write === "function"
    ? (buf, s, offset) => (buf as Latin1Buffer).latin1Write!(s, offset)
    : (buf, s, offset) => buf.write(s, offset, "latin1");
