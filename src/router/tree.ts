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

export interface RegexCaptures {
  /** $0..$9 and beyond: $0 the whole match, unmatched groups "". */
  readonly numbered: readonly string[];
  readonly named: Readonly<Record<string, string>>;
}

export interface LocationMatch<T> {
  readonly location: T;
  /** Captures of the regex location that matched (empty for prefix/exact). */
  readonly captures: RegexCaptures;
  /** nginx auto_redirect: answer 301 to the URI with a "/" appended. */
  readonly redirect: boolean;
  /** How it matched, for logs and tests. */
  readonly modifier: LocationModifier;
}

/** The captures of a match that is not a regex's. */
export const NO_CAPTURES: RegexCaptures = Object.freeze({
  numbered: Object.freeze([]),
  named: Object.freeze({}),
});

export interface LocationNode<T> {
  readonly name: string;
  readonly modifier: LocationModifier;
  readonly regex: RegExp | null;
  readonly autoRedirect: boolean;
  readonly value: T;
  /** Nested locations, or null when there are none. */
  readonly nested: LocationLevel<T> | null;
  /** The answer when this node matched without captures, built once (no object per request). */
  readonly found: LocationMatch<T>;
  /** The same with `redirect: true` (auto_redirect). */
  readonly redirectTo: LocationMatch<T>;
}

export interface LocationLevel<T> {
  readonly exact: ReadonlyMap<string, LocationNode<T>>;
  /** Non-exact prefix locations (`^~` and plain), longest first. */
  readonly prefixes: readonly LocationNode<T>[];
  readonly regexes: readonly LocationNode<T>[];
  /** Some exact or prefix location of this level has auto_redirect. */
  readonly anyAutoRedirect: boolean;
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
    const match = (redirect: boolean): LocationMatch<T> =>
      Object.freeze({ location: s.value, captures: NO_CAPTURES, redirect, modifier: s.modifier });
    const node: LocationNode<T> = Object.freeze({
      name: s.name,
      modifier: s.modifier,
      regex: s.regex,
      autoRedirect: s.autoRedirect,
      value: s.value,
      nested: s.children.length > 0 ? compileLevel(s.children) : null,
      found: match(false),
      redirectTo: match(true),
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
    anyAutoRedirect:
      prefixes.some((p) => p.autoRedirect) || [...exact.values()].some((e) => e.autoRedirect),
  });
}
