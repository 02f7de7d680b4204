/**
 * Content-Type for a file: the extension looked up in the `types` table (from the config's
 * `types {}` / mime.types, or mime-db when there is no config), `default_type` otherwise,
 * and `; charset=X` appended as nginx's `charset` + `charset_types` do.
 */
import db from "mime-db";

/** nginx's defaults for `charset_types` (ngx_http_charset_filter_module.c). */
export const DEFAULT_CHARSET_TYPES: ReadonlySet<string> = new Set([
  "text/html",
  "text/xml",
  "text/plain",
  "text/vnd.wap.wml",
  "application/javascript",
  "application/rss+xml",
]);

/** Where nginx's shipped mime.types disagrees with mime-db's preferred type. */
const NGINX_CHOICES: Readonly<Record<string, string>> = {
  js: "application/javascript",
  xml: "text/xml",
  ico: "image/x-icon",
  rss: "application/rss+xml",
};

const SOURCE_RANK: Readonly<Record<string, number>> = { iana: 3, apache: 2, nginx: 1 };

let dbMap: Map<string, string> | null = null;

/** Extension (lower case, no dot) → type, built once from mime-db. */
export function mimeDbTypes(): ReadonlyMap<string, string> {
  if (dbMap !== null) return dbMap;
  const map = new Map<string, string>();
  const rank = new Map<string, number>();
  for (const [type, entry] of Object.entries(db)) {
    const r = SOURCE_RANK[entry.source ?? ""] ?? 0;
    for (const ext of entry.extensions ?? []) {
      if ((rank.get(ext) ?? -1) < r) {
        map.set(ext, type);
        rank.set(ext, r);
      }
    }
  }
  for (const [ext, type] of Object.entries(NGINX_CHOICES)) map.set(ext, type);
  dbMap = map;
  return map;
}

/** A `types` lookup over mime-db, for running without an nginx config. */
export function mimeDbLookup(ext: string): string | null {
  return mimeDbTypes().get(ext) ?? null;
}

/**
 * The extension nginx uses (ngx_http_set_exten): the text after the last "." of the
 * last path segment, or "" when there is none. Lower-cased for the lookup.
 */
export function extensionOf(uri: string): string {
  for (let i = uri.length - 1; i >= 0; i--) {
    const c = uri.charCodeAt(i);
    if (c === 0x2f /* / */) return "";
    if (c === 0x2e /* . */) return uri.slice(i + 1).toLowerCase();
  }
  return "";
}

/** The Content-Type value for a file URI, charset included when it applies. */
export function contentTypeFor(
  uri: string,
  types: (ext: string) => string | null,
  defaultType: string,
  charset: string | null,
  charsetTypes: ReadonlySet<string> | "*",
): { type: string; header: string } {
  const ext = extensionOf(uri);
  const type = (ext === "" ? null : types(ext)) ?? defaultType;
  const header =
    charset !== null && (charsetTypes === "*" || charsetTypes.has(type)) && !type.includes(";")
      ? `${type}; charset=${charset}`
      : type;
  return { type, header };
}
