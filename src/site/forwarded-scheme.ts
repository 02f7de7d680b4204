/**
 * Gunicorn's `forwarded_allow_ips` for an app behind `app_pass`: a request from a
 * trusted front (by default loopback, as Gunicorn) may say the client used https with
 * X-Forwarded-Proto / X-Forwarded-Protocol / X-Forwarded-Ssl (Gunicorn's
 * secure_scheme_headers), and the app sees `wsgi.url_scheme` accordingly. The site's
 * listeners trust nobody for this themselves (src/site/listeners.ts), so the decision
 * is the app block's, made here per request.
 */
import { HttpError } from "../core/errors.js";
import type { Handler, IncomingRequest } from "../http/types.js";
import { ipMatcher } from "../http/ip-allow.js";

/** Header → the value that means https (gunicorn/config.py SecureSchemeHeader). */
const SECURE_SCHEME: ReadonlyArray<readonly [string, string]> = [
  ["x-forwarded-protocol", "ssl"],
  ["x-forwarded-proto", "https"],
  ["x-forwarded-ssl", "on"],
];

/** The scheme the trusted headers claim; null when none is present. Throws 400 on a contradiction. */
export function forwardedScheme(req: IncomingRequest): "http" | "https" | null {
  let scheme: "http" | "https" | null = null;
  for (const [name, secure] of SECURE_SCHEME) {
    const v = req.header(name);
    if (v === null) continue;
    const s = v === secure ? "https" : "http";
    if (scheme !== null && scheme !== s)
      throw new HttpError("INVALID_SCHEME_HEADERS", 400, "contradictory scheme headers");
    scheme = s;
  }
  return scheme;
}

/**
 * @example const h = withForwardedScheme(wsgiHandler, "127.0.0.1,::1");
 */
export function withForwardedScheme(inner: Handler, allowIps: string): Handler {
  const trusted = ipMatcher(allowIps);
  return (req, res) => {
    if (!trusted(req.connection.remoteAddress)) return inner(req, res);
    const scheme = forwardedScheme(req);
    if (scheme === null || scheme === req.scheme) return inner(req, res);
    const view = Object.create(req) as IncomingRequest;
    Object.defineProperty(view, "scheme", { value: scheme });
    return inner(view, res);
  };
}
