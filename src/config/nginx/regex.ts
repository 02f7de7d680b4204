/**
 * nginx regexes (PCRE) as JavaScript RegExps. The syntax nginx users write is almost all
 * shared; the differences handled here: `(?P<name>...)` and `(?'name'...)` named groups
 * (PCRE spellings) become `(?<name>...)`, and `~*` means case-insensitive.
 */

export interface CompiledRegex {
  readonly source: string;
  readonly caseless: boolean;
  readonly regex: RegExp;
  /** Names of named captures, in order. */
  readonly names: readonly string[];
}

/** Compile, or return the error text nginx-style (`pcre2_compile() failed: ...`). */
export function compileRegex(source: string, caseless: boolean): CompiledRegex | { error: string } {
  const js = source
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, "(?<$1>")
    .replace(/\(\?'([A-Za-z_][A-Za-z0-9_]*)'/g, "(?<$1>");
  let regex: RegExp;
  try {
    regex = new RegExp(js, caseless ? "i" : "");
  } catch (err) {
    return {
      error: `pcre2_compile() failed: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "")} in "${source}"`,
    };
  }
  const names = [...js.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]!);
  return Object.freeze({ source, caseless, regex, names: Object.freeze(names) });
}

/** Captures from one successful match: `$0`..`$9` by number and named ones by name. */
export interface Captures {
  readonly numbered: readonly string[];
  readonly named: Readonly<Record<string, string>>;
}

export const NO_CAPTURES: Captures = Object.freeze({
  numbered: Object.freeze([]),
  named: Object.freeze({}),
});

/** Run a regex; null when it does not match. Unmatched groups read as "". */
export function execRegex(re: CompiledRegex, subject: string): Captures | null {
  const m = re.regex.exec(subject);
  if (!m) return null;
  const named: Record<string, string> = {};
  if (m.groups) for (const [k, v] of Object.entries(m.groups)) named[k] = v ?? "";
  return { numbered: Array.from(m, (v) => v ?? ""), named };
}
