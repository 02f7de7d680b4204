/**
 * The location tree, compiled once per server. Generic over what a location holds, so
 * the router knows nothing of config settings.
 *
 * Each level keeps nginx's three lists (ngx_http_init_locations): exact (`=`) and
 * prefix locations looked up by name, regex locations in config order, and (top level
 * only) named locations. A prefix location's nested locations form their own level.
 */

export type LocationModifier = "=" | "^~" | "~" | "~*" | "" | "@";

export interface LocationSpec<T> {
  readonly modifier: LocationModifier;
  /** URI for `=`/`^~`/prefix, the regex source for `~`/`~*`, "@name" for named. */
  readonly name: string;
  /** Compiled regex for `~` and `~*` (with the `i` flag for `~*`). */
  readonly regex: RegExp | null;
  /** nginx's auto_redirect: a request for name minus the final "/" is redirected (proxy_pass locations). */
  readonly autoRedirect: boolean;
  readonly value: T;
  readonly children: readonly LocationSpec<T>[];
}

export interface LocationNode<T> {
  readonly name: string;
  readonly modifier: LocationModifier;
  readonly regex: RegExp | null;
  readonly autoRedirect: boolean;
  readonly value: T;
  /** Nested locations, or null when there are none. */
  readonly nested: LocationLevel<T> | null;
}

export interface LocationLevel<T> {
  readonly exact: ReadonlyMap<string, LocationNode<T>>;
  /** Non-exact prefix locations (`^~` and plain), longest first. */
  readonly prefixes: readonly LocationNode<T>[];
  readonly regexes: readonly LocationNode<T>[];
}

export interface LocationTree<T> {
  readonly root: LocationLevel<T>;
  readonly named: ReadonlyMap<string, T>;
}

/** Compile specs (already validated by the config builder) into a frozen tree. */
export function compileLocationTree<T>(specs: readonly LocationSpec<T>[]): LocationTree<T> {
  const named = new Map<string, T>();
  // nginx searches named locations in order: the first of a name wins.
  for (const s of specs) if (s.modifier === "@" && !named.has(s.name)) named.set(s.name, s.value);
  return Object.freeze({ root: compileLevel(specs.filter((s) => s.modifier !== "@")), named });
}

function compileLevel<T>(specs: readonly LocationSpec<T>[]): LocationLevel<T> {
  const exact = new Map<string, LocationNode<T>>();
  const prefixes: LocationNode<T>[] = [];
  const regexes: LocationNode<T>[] = [];
  for (const s of specs) {
    const node: LocationNode<T> = Object.freeze({
      name: s.name,
      modifier: s.modifier,
      regex: s.regex,
      autoRedirect: s.autoRedirect,
      value: s.value,
      nested: s.children.length > 0 ? compileLevel(s.children) : null,
    });
    if (s.modifier === "=") {
      if (!exact.has(s.name)) exact.set(s.name, node);
    } else if (s.modifier === "~" || s.modifier === "~*") regexes.push(node);
    else if (s.modifier === "" || s.modifier === "^~") prefixes.push(node);
  }
  // Longest first; a stable sort keeps the first of two equal names (the builder rejects those).
  prefixes.sort((a, b) => b.name.length - a.name.length);
  return Object.freeze({
    exact,
    prefixes: Object.freeze(prefixes),
    regexes: Object.freeze(regexes),
  });
}
