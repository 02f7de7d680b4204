/**
 * Gunicorn's `forwarded_allow_ips` for an app behind `app_pass`: a request from a
 * trusted front (by default loopback, as Gunicorn) may say the client used https with
 * X-Forwarded-Proto / X-Forwarded-Protocol / X-Forwarded-Ssl (Gunicorn's
 * secure_scheme_headers), and the app sees `wsgi.url_scheme` accordingly. The site's
 * listeners trust nobody for this themselves (src/site/listeners.ts), so the decision
 * is the app block's, made here per request.
 */
import { HttpError } from "../core/errors.js";
import type { Handler, HeaderList, IncomingRequest } from "../http/types.js";
import { ipMatcher, type IpMatcher } from "../http/ip-allow.js";

/** Header → the value that means https (gunicorn/config.py SecureSchemeHeader), in Gunicorn's order. */
const SECURE_SCHEME: ReadonlyArray<readonly [string, string]> = [
  ["x-forwarded-protocol", "ssl"],
  ["x-forwarded-proto", "https"],
  ["x-forwarded-ssl", "on"],
];

/** Index in SECURE_SCHEME of a field name (any case), or -1; one pass over the name. */
function secureIndex(name: string): number {
  const n = name.length;
  if (n !== 20 && n !== 17 && n !== 15) return -1;
  const lower = name.toLowerCase();
  for (let i = 0; i < SECURE_SCHEME.length; i++) if (SECURE_SCHEME[i]![0] === lower) return i;
  return -1;
}

/**
 * The scheme the trusted headers claim; null when none is present. Throws 400 on a
 * contradiction. As `req.header()` per name (the first field of each name counts), in
 * one pass over the fields.
 */
export function forwardedScheme(req: IncomingRequest): "http" | "https" | null {
  return schemeOf(req.headers);
}

function schemeOf(headers: HeaderList): "http" | "https" | null {
  let first: (string | undefined)[] | null = null;
  for (let i = 0; i < headers.length; i++) {
    const f = headers[i]!;
    const k = secureIndex(f[0]);
    if (k < 0) continue;
    first ??= [undefined, undefined, undefined];
    if (first[k] === undefined) first[k] = f[1];
  }
  if (first === null) return null;
  let scheme: "http" | "https" | null = null;
  for (let k = 0; k < SECURE_SCHEME.length; k++) {
    const v = first[k];
    if (v === undefined) continue;
    const s = v === SECURE_SCHEME[k]![1] ? "https" : "http";
    if (scheme !== null && scheme !== s)
      throw new HttpError("INVALID_SCHEME_HEADERS", 400, "contradictory scheme headers");
    scheme = s;
  }
  return scheme;
}

/** Most fronts talk from one or a few addresses: remember the verdict per address. */
const MAX_REMEMBERED = 64;

/**
 * `trusted` with its answers remembered for the last few distinct addresses (the
 * BlockList check builds a SocketAddress per call). Bounded: past MAX_REMEMBERED
 * addresses the memory starts over.
 */
function rememberingMatcher(trusted: IpMatcher): IpMatcher {
  const known = new Map<string, boolean>();
  return (address) => {
    let ok = known.get(address);
    if (ok === undefined) {
      if (known.size >= MAX_REMEMBERED) known.clear();
      known.set(address, (ok = trusted(address)));
    }
    return ok;
  };
}

/**
 * @example const h = withForwardedScheme(wsgiHandler, "127.0.0.1,::1");
 */
export function withForwardedScheme(inner: Handler, allowIps: string): Handler {
  const trusted = rememberingMatcher(ipMatcher(allowIps));
  return (req, res) => {
    if (!trusted(req.connection.remoteAddress)) return inner(req, res);
    const scheme = forwardedScheme(req);
    if (scheme === null || scheme === req.scheme) return inner(req, res);
    const view = Object.create(req) as IncomingRequest;
    Object.defineProperty(view, "scheme", { value: scheme });
    return inner(view, res);
  };
}
