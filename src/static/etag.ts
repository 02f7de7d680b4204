/**
 * Validators for a file, in nginx's formats (ngx_http_set_etag, ngx_http_weak_etag):
 * ETag `"<mtime seconds hex>-<size hex>"`, Last-Modified the mtime as an HTTP-date.
 * Entity-tag lists and comparison follow RFC 9110 §8.8.3.
 */
import { formatHttpDate } from "./httpdate.js";

/** `"5f3e1a2b-400"` for mtime 0x5f3e1a2b seconds and 1024 bytes. */
export function fileEtag(mtimeSeconds: number, size: number): string {
  return `"${mtimeSeconds.toString(16)}-${size.toString(16)}"`;
}

/** nginx makes an ETag weak when a filter (gzip) changes the bytes but not the meaning. */
export function weakEtag(etag: string): string {
  return etag.startsWith("W/") ? etag : `W/${etag}`;
}

export function lastModified(mtimeSeconds: number): string {
  return formatHttpDate(mtimeSeconds);
}

export interface EntityTag {
  readonly weak: boolean;
  /** The opaque tag including its double quotes. */
  readonly tag: string;
}

export function parseEntityTag(value: string): EntityTag | null {
  const weak = value.startsWith("W/");
  const tag = weak ? value.slice(2) : value;
  // entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (§8.8.3)
  if (tag.length < 2 || tag[0] !== '"' || tag[tag.length - 1] !== '"') return null;
  if (tag.slice(1, -1).includes('"')) return null;
  return { weak, tag };
}

/**
 * Parse `If-Match`/`If-None-Match`: "*" or a comma list of entity-tags. Commas may appear
 * inside the quotes (etagc allows them), so this scans rather than splits. Malformed
 * members are skipped; null means "*".
 */
export function parseEtagList(value: string): EntityTag[] | null {
  const v = value.trim();
  if (v === "*") return null;
  const out: EntityTag[] = [];
  let i = 0;
  while (i < v.length) {
    while (i < v.length && (v[i] === " " || v[i] === "\t" || v[i] === ",")) i++;
    if (i >= v.length) break;
    const start = i;
    if (v.startsWith("W/", i)) i += 2;
    if (v[i] === '"') {
      const close = v.indexOf('"', i + 1);
      if (close < 0) break;
      i = close + 1;
      const et = parseEntityTag(v.slice(start, i));
      if (et !== null) out.push(et);
    } else {
      // Not an entity-tag: skip to the next comma.
      const comma = v.indexOf(",", i);
      i = comma < 0 ? v.length : comma;
    }
  }
  return out;
}

/** Strong comparison: both strong and identical (RFC 9110 §8.8.3.2). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.tag === b.tag;
}

/** Weak comparison: opaque tags identical, weakness ignored. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.tag === b.tag;
}
