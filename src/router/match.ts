/**
 * Location matching, nginx's order exactly (ngx_http_core_find_location and
 * ngx_http_core_find_static_location in src/http/ngx_http_core_module.c):
 *
 * 1. At a level, an exact (`=`) location equal to the URI wins outright.
 * 2. Else the longest prefix location is remembered; its nested locations are searched
 *    the same way (recursively). An exact or regex match inside ends the search.
 * 3. Unless that prefix was `^~`, this level's regexes are tried in config order; the
 *    first match wins and its own nested locations are searched.
 * 4. Else the longest prefix (possibly a nested one) is the answer.
 *
 * nginx's quirks are kept: a `^~` on a nested prefix skips only the nested level's
 * regexes, and a request for "/dir" where a proxy location "/dir/" exists (auto
 * redirect) answers with `redirect: true`, checked before regexes.
 */
import {
  NO_CAPTURES,
  type LocationLevel,
  type LocationMatch,
  type LocationNode,
  type LocationTree,
  type RegexCaptures,
} from "./tree.js";

export type { LocationMatch, RegexCaptures } from "./tree.js";

type Rc = "ok" | "done" | "again" | "declined";

interface State<T> {
  node: LocationNode<T> | null;
  captures: RegexCaptures;
}

/**
 * The search's state. Matching is synchronous and never re-entered (a regex cannot call
 * back), so one state serves every search: no object per request.
 */
const scratch: State<unknown> = { node: null, captures: NO_CAPTURES };

/**
 * Find the location for a normalised URI, or null when none matches (the request is
 * then handled with the server's own settings, as nginx does). A match without regex
 * captures is an object built with the tree, shared by every request that finds it.
 *
 * @example
 *   matchLocation(server.router, "/static/app.css")?.location
 */
export function matchLocation<T>(tree: LocationTree<T>, uri: string): LocationMatch<T> | null {
  const st = scratch as State<T>;
  st.node = null;
  st.captures = NO_CAPTURES;
  const rc = findLocation(tree.root, uri, st);
  // (findLocation set it: TypeScript cannot see that through the call.)
  const node = st.node as LocationNode<T> | null;
  const captures = st.captures;
  st.node = null;
  st.captures = NO_CAPTURES;
  if (node === null) return null;
  if (captures === NO_CAPTURES) return rc === "done" ? node.redirectTo : node.found;
  return { location: node.value, captures, redirect: rc === "done", modifier: node.modifier };
}

/** A named location (`@fallback`): reachable only from try_files, error_page and the like. */
export function findNamedLocation<T>(tree: LocationTree<T>, name: string): T | null {
  return tree.named.get(name) ?? null;
}

function findLocation<T>(level: LocationLevel<T> | null, uri: string, st: State<T>): Rc {
  if (level === null) return "declined";
  let rc = findStatic(level, uri, st);
  let noregex = false;
  if (rc === "again") {
    const found = st.node!;
    noregex = found.modifier === "^~";
    rc = findLocation(found.nested, uri, st);
  }
  if (rc === "ok" || rc === "done") return rc;
  if (!noregex) {
    for (const node of level.regexes) {
      const m = node.regex!.exec(uri);
      if (m === null) continue;
      st.node = node;
      st.captures = toCaptures(m);
      findLocation(node.nested, uri, st);
      return "ok";
    }
  }
  return rc;
}

/** The static (exact/prefix) step at one level. */
function findStatic<T>(level: LocationLevel<T>, uri: string, st: State<T>): Rc {
  const exact = level.exact.get(uri);
  if (exact) {
    st.node = exact;
    return "ok";
  }
  let best: LocationNode<T> | null = null;
  for (const p of level.prefixes) {
    if (uri.startsWith(p.name)) {
      best = p;
      break; // longest first
    }
  }
  if (level.anyAutoRedirect && (best === null || best.name !== uri)) {
    // "/dir" where "/dir/" has auto_redirect: found deeper in nginx's tree than any
    // shorter prefix, so it wins over them (but not over a prefix equal to the URI).
    const slashed = uri + "/";
    const redirect = level.exact.get(slashed)?.autoRedirect
      ? level.exact.get(slashed)!
      : level.prefixes.find((p) => p.name === slashed && p.autoRedirect);
    if (redirect) {
      st.node = redirect;
      return "done";
    }
  }
  if (best === null) return "declined";
  st.node = best;
  return "again";
}

function toCaptures(m: RegExpExecArray): RegexCaptures {
  const named: Record<string, string> = {};
  if (m.groups) for (const [k, v] of Object.entries(m.groups)) named[k] = v ?? "";
  return { numbered: Array.from(m, (v) => v ?? ""), named };
}
