/**
 * The values behind Gunicorn's access-log atoms (gunicorn/glogging.py `Logger.atoms`),
 * computed from a plain AccessRecord that the HTTP layer or the WSGI gateway fills in.
 *
 *   h remote address      l "-"                 u Basic-auth user or "-"
 *   t [26/Nov/2026:23:30:00 +0000] (when the response finished, local time like strftime)
 *   r "GET /a?b HTTP/1.1" m method             U path, percent-decoded (PATH_INFO)
 *   q query string        H protocol            s status
 *   B body bytes (number) b body bytes (text)   f Referer or "-"      a User-Agent or "-"
 *   T whole seconds       M milliseconds        D microseconds        L "0.001234"
 *   p "<pid>"             {name}i request header {name}o response header {NAME}e WSGI environ
 */
import type { HeaderList } from "./types.js";

export interface AccessRecord {
  /** Client address ("" on a unix socket: logged as "-"). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly method: string;
  /** The request-target exactly as sent (WSGI RAW_URI). */
  readonly target: string;
  /** Raw path, not percent-decoded (RequestHead.path); `U` decodes it as Gunicorn's PATH_INFO. */
  readonly path: string;
  /** Raw query without "?" ("" if none). */
  readonly query: string;
  /** "HTTP/1.1" (WSGI SERVER_PROTOCOL). */
  readonly protocol: string;
  readonly status: number;
  /** Body bytes sent (ResponseWriter.bodyBytesSent). */
  readonly bodyBytes: number;
  readonly requestHeaders: HeaderList;
  readonly responseHeaders: HeaderList;
  /** Wall-clock time the request began, epoch milliseconds (Date.now()). */
  readonly startTime: number;
  /** Time from the first byte of the request to the end of the response, microseconds. */
  readonly durationUs: number;
  /** Process that served it (the master's pid when the front end logs). */
  readonly pid: number;
  /**
   * Extra WSGI environ entries for `%({NAME}e)s` (the gateway's SERVER_NAME,
   * wsgi.url_scheme, ...). The CGI basics (REQUEST_METHOD, PATH_INFO, QUERY_STRING,
   * REMOTE_ADDR, REMOTE_PORT, RAW_URI, SERVER_PROTOCOL, CONTENT_TYPE, CONTENT_LENGTH,
   * HTTP_*) are derived from the record when absent here.
   */
  readonly environ?: Readonly<Record<string, string>>;
}

/** Atom keys Gunicorn defines (besides the `{...}i/o/e` families). */
export const SIMPLE_ATOMS = "hlutrmUqHsBbfaTMDLp";
/** Atoms whose value is a number (so `%(D)d` works, `%(h)d` is refused). */
export const NUMERIC_ATOMS = "BTMD";

export type AtomValue = string | number;

/** True when `key` is one Gunicorn knows: a letter above or `{name}i`, `{name}o`, `{name}e`. */
export function isKnownAtom(key: string): boolean {
  if (key.length === 1) return SIMPLE_ATOMS.includes(key);
  return /^\{[^}]*\}[ioe]$/i.test(key);
}

/**
 * The raw (unescaped) value of one atom, or null where Gunicorn prints "-" for a missing
 * value (absent header, no user, unknown key).
 */
export function atomValue(key: string, rec: AccessRecord): AtomValue | null {
  if (key.startsWith("{")) {
    // SafeAtoms lower-cases `{...}` keys only; `%(T)s` and `%(t)s` stay distinct.
    const k = key.toLowerCase();
    const name = k.slice(1, -2);
    if (k.endsWith("}i")) return lastHeader(rec.requestHeaders, name);
    if (k.endsWith("}o")) return lastHeader(rec.responseHeaders, name);
    if (k.endsWith("}e")) return environLookup(rec, name);
    return null;
  }
  const us = Math.max(0, Math.round(rec.durationUs));
  switch (key) {
    case "h":
      return rec.remoteAddress === "" ? null : rec.remoteAddress;
    case "l":
      return null;
    case "u":
      return basicAuthUser(joinedHeader(rec.requestHeaders, "authorization"));
    case "t":
      return clfTime(new Date(rec.startTime + us / 1000));
    case "r":
      return `${rec.method} ${rec.target} ${rec.protocol}`;
    case "m":
      return rec.method;
    case "U":
      return pathInfo(rec.path);
    case "q":
      return rec.query;
    case "H":
      return rec.protocol;
    case "s":
      return String(rec.status);
    case "B":
      return rec.bodyBytes;
    case "b":
      // Gunicorn: `resp.sent is not None and str(resp.sent) or '-'`: 0 bytes logs "0".
      return String(rec.bodyBytes);
    case "f":
      return joinedHeader(rec.requestHeaders, "referer");
    case "a":
      return joinedHeader(rec.requestHeaders, "user-agent");
    case "T":
      return Math.floor(us / 1e6);
    case "M":
      return Math.floor(us / 1e3);
    case "D":
      return us;
    case "L":
      return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, "0")}`;
    case "p":
      return `<${rec.pid}>`;
    default:
      return null;
  }
}

/** A dict built from the header list keeps the last value of a repeated name. */
function lastHeader(headers: HeaderList, lowerName: string): string | null {
  let v: string | null = null;
  for (const [n, val] of headers) if (n.toLowerCase() === lowerName) v = val;
  return v;
}

/** WSGI environ joins repeated request headers with "," (gunicorn/http/wsgi.py). */
function joinedHeader(headers: HeaderList, lowerName: string): string | null {
  const vals: string[] = [];
  for (const [n, val] of headers) if (n.toLowerCase() === lowerName) vals.push(val);
  return vals.length === 0 ? null : vals.join(",");
}

function environLookup(rec: AccessRecord, lowerName: string): string | null {
  if (rec.environ) {
    for (const [k, v] of Object.entries(rec.environ)) if (k.toLowerCase() === lowerName) return v;
  }
  switch (lowerName) {
    case "request_method":
      return rec.method;
    case "raw_uri":
      return rec.target;
    case "path_info":
      return pathInfo(rec.path);
    case "query_string":
      return rec.query;
    case "server_protocol":
      return rec.protocol;
    case "remote_addr":
      return rec.remoteAddress;
    case "remote_port":
      return String(rec.remotePort);
    case "content_type":
      return joinedHeader(rec.requestHeaders, "content-type");
    case "content_length":
      return joinedHeader(rec.requestHeaders, "content-length");
  }
  if (lowerName.startsWith("http_")) {
    const header = lowerName.slice(5);
    if (header === "content_type" || header === "content_length") return null;
    const vals: string[] = [];
    for (const [n, val] of rec.requestHeaders)
      if (n.toLowerCase().replaceAll("-", "_") === header) vals.push(val);
    return vals.length === 0 ? null : vals.join(",");
  }
  return null;
}

/** PATH_INFO as Gunicorn builds it: %XX decoded to bytes, read as latin-1 (PEP 3333). */
export function pathInfo(rawPath: string): string {
  return rawPath.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) =>
    String.fromCharCode(parseInt(h, 16)),
  );
}

/** The user name of an `Authorization: Basic ...` header, as Gunicorn's `_get_user`. */
export function basicAuthUser(auth: string | null): string | null {
  if (auth === null || !auth.toLowerCase().startsWith("basic")) return null;
  const sp = auth.indexOf(" ");
  if (sp < 0) return null;
  // b64decode(validate=False) drops characters outside the alphabet, then needs padding.
  const b64 = auth
    .slice(sp + 1)
    .trim()
    .replace(/[^A-Za-z0-9+/=]/g, "");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return null;
  const bytes = Buffer.from(b64, "base64");
  const colon = bytes.indexOf(0x3a);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      colon < 0 ? bytes : bytes.subarray(0, colon),
    );
  } catch {
    return null;
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `time.strftime('[%d/%b/%Y:%H:%M:%S %z]')`: local time and its UTC offset. */
export function clfTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const a = Math.abs(off);
  return (
    `[${p(d.getDate())}/${MONTHS[d.getMonth()]!}/${d.getFullYear()}:` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(a / 60))}${p(a % 60)}]`
  );
}
