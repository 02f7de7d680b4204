/**
 * nginx's `expires` (ngx_http_headers_filter_module.c) as a pure function: the Expires
 * and Cache-Control fields for a response, given the clock and the file's mtime.
 * Also usable by the pipeline for non-static responses.
 */
import type { HeaderList } from "../http/types.js";
import { formatHttpDate } from "./httpdate.js";

export type ExpiresPolicy =
  | { readonly kind: "off" }
  /** `expires epoch` */
  | { readonly kind: "epoch" }
  /** `expires max` */
  | { readonly kind: "max" }
  /** `expires [modified] [-]TIME`: seconds after now, or after the file's mtime. */
  | { readonly kind: "after"; readonly seconds: number; readonly modified: boolean }
  /** `expires @15h30m`: the next time this second-of-day comes round (UTC here). */
  | { readonly kind: "daily"; readonly secondOfDay: number };

/** Statuses `expires` applies to (without `always`), as nginx's headers filter. */
const EXPIRES_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/**
 * @example expiresHeaders({ kind: "after", seconds: 3600, modified: false }, 200, 1000, null)
 *   // [["Expires", "Thu, 01 Jan 1970 01:16:40 GMT"], ["Cache-Control", "max-age=3600"]]
 */
export function expiresHeaders(
  policy: ExpiresPolicy,
  status: number,
  nowSeconds: number,
  mtimeSeconds: number | null,
): HeaderList {
  if (policy.kind === "off" || !EXPIRES_STATUSES.has(status)) return [];
  if (policy.kind === "max") {
    return [
      ["Expires", "Thu, 31 Dec 2037 23:55:55 GMT"],
      ["Cache-Control", "max-age=315360000"],
    ];
  }
  if (policy.kind === "epoch") {
    return [
      ["Expires", "Thu, 01 Jan 1970 00:00:01 GMT"],
      ["Cache-Control", "no-cache"],
    ];
  }
  let at: number;
  let negative = false;
  if (policy.kind === "daily") {
    const today = nowSeconds - (nowSeconds % 86400);
    at = today + policy.secondOfDay;
    if (at <= nowSeconds) at += 86400;
  } else {
    negative = policy.seconds < 0;
    at = (policy.modified && mtimeSeconds !== null ? mtimeSeconds : nowSeconds) + policy.seconds;
  }
  const expires: [string, string] = ["Expires", formatHttpDate(at)];
  if (negative || at < nowSeconds) return [expires, ["Cache-Control", "no-cache"]];
  return [expires, ["Cache-Control", `max-age=${at - nowSeconds}`]];
}
