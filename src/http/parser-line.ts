/**
 * The request line (RFC 9112 §3): `method SP request-target SP HTTP-version`, parsed from
 * the octets of one line (terminator already removed).
 */
import { HttpError } from "../core/errors.js";
import type { TargetForm } from "./types.js";
import type { HttpLimits } from "./limits.js";
import {
  TCHAR,
  TARGET_OCTET,
  REG_NAME,
  IP_LITERAL,
  SCHEME_CHAR,
  SP,
  latin1,
  sameOctets,
} from "./chars.js";

export interface RequestLine {
  method: string;
  target: string;
  targetForm: TargetForm;
  path: string;
  query: string;
  fragment: string;
  absoluteAuthority: string | null;
  versionMajor: number;
  versionMinor: number;
}

const bad = (msg: string): HttpError => new HttpError("INVALID_REQUEST_LINE", 400, msg);

export function parseRequestLine(
  buf: Buffer,
  start: number,
  end: number,
  limits: HttpLimits,
  prev: Readonly<RequestLine> | null = null,
): Readonly<RequestLine> {
  // RFC 9112 §3: exactly one SP between the three parts; anything else is not a request line.
  // (Byte loops rather than buf.indexOf: on lines this short the native call costs more.)
  let sp1 = start;
  while (sp1 < end && buf[sp1] !== SP) sp1++;
  if (sp1 >= end) throw bad("invalid request line");
  let sp2 = sp1 + 1;
  while (sp2 < end && buf[sp2] !== SP) sp2++;
  if (sp2 >= end) throw bad("invalid request line");

  // RFC 9110 §9.1: method = token (case-sensitive).
  if (sp1 === start) throw bad("invalid request line");
  let conventional = sp1 - start >= 3 && sp1 - start <= 20;
  for (let i = start; i < sp1; i++) {
    const c = buf[i]!;
    if (TCHAR[c] !== 1) throw new HttpError("INVALID_METHOD", 400, "invalid method");
    // Gunicorn's policy: methods are upper-case by convention; lower case and "#" are refused.
    if ((c >= 0x61 && c <= 0x7a) || c === 0x23) conventional = false;
  }
  if (!conventional && !limits.permitUnconventionalMethod) {
    throw new HttpError("INVALID_METHOD", 400, "unconventional method");
  }
  let method = internedMethod(buf, start, sp1) ?? latin1(buf, start, sp1);
  if (limits.casefoldMethod) method = method.toUpperCase();

  // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive; we speak 1.x.
  const v = sp2 + 1;
  if (
    end - v !== 8 ||
    buf[v] !== 0x48 ||
    buf[v + 1] !== 0x54 ||
    buf[v + 2] !== 0x54 ||
    buf[v + 3] !== 0x50 ||
    buf[v + 4] !== 0x2f ||
    buf[v + 5] !== 0x31 ||
    buf[v + 6] !== 0x2e ||
    !(buf[v + 7]! >= 0x30 && buf[v + 7]! <= 0x39)
  ) {
    throw new HttpError("INVALID_VERSION", 400, "invalid HTTP version");
  }
  const versionMinor = buf[v + 7]! - 0x30;

  const ts = sp1 + 1;
  if (ts === sp2) throw bad("empty request target");
  for (let i = ts; i < sp2; i++) {
    if (TARGET_OCTET[buf[i]!] !== 1) throw bad("invalid octet in request target");
  }
  // A keep-alive client often asks for the same target again: reuse the previous
  // request's strings and split (strings are immutable) when the octets are the same.
  if (
    prev !== null &&
    prev.method === method &&
    prev.versionMinor === versionMinor &&
    sameOctets(buf, ts, sp2, prev.target)
  ) {
    return prev;
  }
  const target = latin1(buf, ts, sp2);
  const line: RequestLine = {
    method,
    target,
    targetForm: "origin",
    path: "",
    query: "",
    fragment: "",
    absoluteAuthority: null,
    versionMajor: 1,
    versionMinor,
  };
  classifyTarget(method, target, line);
  return line;
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT"];

/** The common methods as shared constant strings (no allocation per request). */
function internedMethod(buf: Buffer, start: number, end: number): string | null {
  const c = buf[start];
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHODS[i]!;
    if (m.charCodeAt(0) === c && sameOctets(buf, start, end, m)) return m;
  }
  return null;
}

type TargetParts = Pick<
  RequestLine,
  "targetForm" | "path" | "query" | "fragment" | "absoluteAuthority"
>;

/** RFC 9112 §3.2: the four forms, each only where it is allowed. Fills `out`. */
export function classifyTarget(method: string, target: string, out: TargetParts): void {
  // §3.2.3: authority-form is only used with CONNECT, and CONNECT only uses it.
  if (method === "CONNECT") {
    if (!validAuthority(target, true)) throw bad("CONNECT needs authority-form");
    out.targetForm = "authority";
    return;
  }
  // §3.2.4: asterisk-form only for a server-wide OPTIONS.
  if (target === "*") {
    if (method !== "OPTIONS") throw bad("asterisk-form is only allowed with OPTIONS");
    out.targetForm = "asterisk";
    out.path = "*";
    return;
  }
  // §3.2.1: origin-form = absolute-path [ "?" query ]. Gunicorn splits off a "#fragment"
  // (not part of the grammar); we do the same and never pass it on.
  if (target.charCodeAt(0) === 0x2f) {
    splitPath(target, out);
    return;
  }
  // §3.2.2: absolute-form = absolute-URI.
  const sep = target.indexOf("://");
  if (sep > 0) {
    for (let i = 0; i < sep; i++) {
      const c = target.charCodeAt(i);
      if (SCHEME_CHAR[c] !== 1 || (i === 0 && !((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a))) {
        throw bad("invalid scheme in absolute-form");
      }
    }
    let authEnd = target.length;
    for (let i = sep + 3; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) {
        authEnd = i;
        break;
      }
    }
    const authority = target.slice(sep + 3, authEnd);
    // RFC 9110 §4.2.1 / §4.2.4: an http(s) URI needs a host and must not carry userinfo.
    if (!validAuthority(authority, false)) throw bad("invalid authority in absolute-form");
    out.targetForm = "absolute";
    out.absoluteAuthority = target.slice(0, authEnd);
    splitPath(target.slice(authEnd), out);
    return;
  }
  throw bad("invalid request target");
}

function splitPath(t: string, out: TargetParts): void {
  const h = t.indexOf("#");
  const pq = h >= 0 ? t.slice(0, h) : t;
  if (h >= 0) out.fragment = t.slice(h + 1);
  const q = pq.indexOf("?");
  if (q >= 0) {
    out.path = pq.slice(0, q);
    out.query = pq.slice(q + 1);
  } else out.path = pq;
}

/** RFC 3986 §3.2: host [ ":" port ], no userinfo; the port is required for CONNECT. */
export function validAuthority(a: string, needPort: boolean): boolean {
  let i = 0;
  if (a.charCodeAt(0) === 0x5b) {
    const close = a.indexOf("]");
    if (close < 2) return false;
    for (i = 1; i < close; i++) if (IP_LITERAL[a.charCodeAt(i)] !== 1) return false;
    i = close + 1;
  } else {
    while (i < a.length && a.charCodeAt(i) !== 0x3a) {
      const c = a.charCodeAt(i);
      if (c > 0xff || REG_NAME[c] !== 1) return false;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === a.length) return !needPort;
  if (a.charCodeAt(i) !== 0x3a) return false;
  const port = a.slice(i + 1);
  if (port === "") return !needPort;
  return /^[0-9]{1,5}$/.test(port);
}
