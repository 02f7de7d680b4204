/**
 * Content-coding decisions (pure): whether a client takes gzip (RFC 9110 §12.5.3), and
 * whether a response type is in `gzip_types`.
 */

/**
 * True when Accept-Encoding admits gzip: `gzip`/`x-gzip` with q > 0, or `*` with q > 0
 * when gzip is not listed. nginx's ngx_http_gzip_ok() reads `gzip;q=0` the same way.
 */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  if (acceptEncoding === null) return false;
  let star: boolean | null = null;
  for (const member of acceptEncoding.split(",")) {
    const [coding = "", ...params] = member.split(";");
    const name = coding.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k = "", v = ""] = p.split("=");
      if (k.trim().toLowerCase() === "q") {
        const n = Number(v.trim());
        q = Number.isFinite(n) ? n : 0;
      }
    }
    if (name === "gzip" || name === "x-gzip") return q > 0;
    if (name === "*") star = q > 0;
  }
  return star === true;
}

export interface GzipPolicy {
  /** `gzip on|off` */
  readonly enabled: boolean;
  /** `gzip_types`: MIME types, or "*" for any; text/html is always included. */
  readonly types: ReadonlySet<string> | "*";
  /** `gzip_min_length` (bytes, compared with the file size). */
  readonly minLength: number;
  /** `gzip_comp_level` 1..9 */
  readonly level: number;
  /** `gzip_vary`: add `Vary: Accept-Encoding` to responses that could be compressed. */
  readonly vary: boolean;
  /** `gzip_http_version`: the lowest HTTP minor version (of 1.x) compressed; nginx's default 1.1. */
  readonly httpVersion: "1.0" | "1.1";
}

export const GZIP_OFF: GzipPolicy = {
  enabled: false,
  types: new Set(["text/html"]),
  minLength: 20,
  level: 1,
  vary: false,
  httpVersion: "1.1",
};

/** Whether a response of this type and size is eligible for on-the-fly gzip. */
export function gzipEligible(policy: GzipPolicy, type: string, size: number): boolean {
  if (!policy.enabled || size < policy.minLength) return false;
  return type === "text/html" || policy.types === "*" || policy.types.has(type);
}

/** gzip_http_version: HTTP/1.0 clients get no compression by default. */
export function gzipVersionOk(policy: GzipPolicy, major: number, minor: number): boolean {
  return major > 1 || minor >= (policy.httpVersion === "1.1" ? 1 : 0);
}
