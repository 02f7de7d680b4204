/**
 * Conditional requests (RFC 9110 §13), as a pure decision over the request's
 * precondition headers and the selected representation's validators.
 *
 * Order is RFC 9110 §13.2.2, which differs from nginx in one place: when If-None-Match is
 * present, If-Modified-Since is ignored (nginx requires both to agree).
 * `if_modified_since exact|before|off` is nginx's knob for the date comparison.
 */
import { parseEtagList, parseEntityTag, strongMatch, weakMatch } from "./etag.js";
import { parseHttpDate } from "./httpdate.js";

export type IfModifiedSinceMode = "off" | "exact" | "before";

export interface Validators {
  /** The ETag as sent (possibly `W/`-prefixed), or null with `etag off`. */
  readonly etag: string | null;
  /** Last-Modified in seconds, or null when unknown. */
  readonly lastModified: number | null;
}

export interface Preconditions {
  readonly ifMatch: string | null;
  readonly ifNoneMatch: string | null;
  readonly ifModifiedSince: string | null;
  readonly ifUnmodifiedSince: string | null;
}

/** "proceed": serve normally; "not-modified": 304; "failed": 412. */
export type PreconditionResult = "proceed" | "not-modified" | "failed";

/** If-Match: strong comparison; "*" holds whenever a representation exists (§13.1.1). */
function ifMatchHolds(value: string, v: Validators): boolean {
  const list = parseEtagList(value);
  if (list === null) return true;
  const current = v.etag === null ? null : parseEntityTag(v.etag);
  if (current === null) return false;
  return list.some((t) => strongMatch(t, current));
}

/** If-None-Match: true when NO member matches under weak comparison (§13.1.2). */
function ifNoneMatchHolds(value: string, v: Validators): boolean {
  const list = parseEtagList(value);
  if (list === null) return false;
  const current = v.etag === null ? null : parseEntityTag(v.etag);
  if (current === null) return true;
  return !list.some((t) => weakMatch(t, current));
}

/** If-Unmodified-Since: holds when the resource has not changed since the date (§13.1.4). */
function ifUnmodifiedSinceHolds(date: number, v: Validators): boolean {
  if (v.lastModified === null) return false;
  return v.lastModified <= date;
}

/**
 * If-Modified-Since: true when the resource counts as modified (§13.1.3). nginx's
 * `exact` (default) needs the date to equal Last-Modified for a 304, `before` accepts any
 * later-or-equal date, `off` always serves.
 */
function modifiedSince(date: number, v: Validators, mode: IfModifiedSinceMode): boolean {
  if (mode === "off" || v.lastModified === null) return true;
  if (date === v.lastModified) return false;
  return mode === "exact" || date < v.lastModified;
}

/**
 * Evaluate the preconditions of a request on an existing representation.
 * @example evaluatePreconditions("GET", { ifNoneMatch: '"a-1"', ... }, { etag: '"a-1"', lastModified: 10 }, "exact") // "not-modified"
 */
export function evaluatePreconditions(
  method: string,
  h: Preconditions,
  v: Validators,
  imsMode: IfModifiedSinceMode,
): PreconditionResult {
  const getOrHead = method === "GET" || method === "HEAD";
  // Step 1/2: If-Match, else If-Unmodified-Since (an invalid date is ignored, §13.1.4).
  if (h.ifMatch !== null) {
    if (!ifMatchHolds(h.ifMatch, v)) return "failed";
  } else if (h.ifUnmodifiedSince !== null) {
    const date = parseHttpDate(h.ifUnmodifiedSince);
    if (date !== null && !ifUnmodifiedSinceHolds(date, v)) return "failed";
  }
  // Step 3/4: If-None-Match, else If-Modified-Since (GET/HEAD only, §13.1.3).
  if (h.ifNoneMatch !== null) {
    if (!ifNoneMatchHolds(h.ifNoneMatch, v)) return getOrHead ? "not-modified" : "failed";
  } else if (getOrHead && h.ifModifiedSince !== null) {
    const date = parseHttpDate(h.ifModifiedSince);
    if (date !== null && !modifiedSince(date, v, imsMode)) return "not-modified";
  }
  return "proceed";
}

/**
 * If-Range (§13.1.5): an entity-tag must match strongly, a date must equal Last-Modified
 * exactly (nginx's rule). When false the Range header is ignored and the whole
 * representation is sent. Absent If-Range holds.
 */
export function ifRangeHolds(value: string | null, v: Validators): boolean {
  if (value === null) return true;
  const t = value.trim();
  if (t.endsWith('"')) {
    const want = parseEntityTag(t);
    const current = v.etag === null ? null : parseEntityTag(v.etag);
    return want !== null && current !== null && strongMatch(want, current);
  }
  const date = parseHttpDate(t);
  return date !== null && v.lastModified !== null && date === v.lastModified;
}
