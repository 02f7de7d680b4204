/**
 * The rewrite phase (ngx_http_rewrite_module): `rewrite`, `return`, `set`, `if` and
 * `break`, executed in config order at the server level and again in the location.
 *
 * - `rewrite` matches the current $uri; on a match its captures become $1.. and the
 *   replacement is evaluated. A replacement starting with http://, https:// or $scheme
 *   redirects (302, or 301 with `permanent`) whatever the flag; `redirect`/`permanent`
 *   redirect a relative replacement too. Otherwise $uri changes (the request becomes
 *   internal) and `last` stops and searches locations again, `break` stops and stays,
 *   no flag goes on with the next statement.
 * - Arguments: a replacement with "?" sets new ones and appends the old; a trailing "?"
 *   drops the old ones.
 * - `if (...) { ... }` runs its block when true; inside a location its settings (the
 *   implicit location nginx creates) become the ones in force.
 */
import { statSync } from "node:fs";
import {
  evaluate,
  type IfCondition,
  type Statement,
  type VariableLookup,
} from "../config/nginx/index.js";
import { execRegex } from "../config/nginx/regex.js";
import type { RequestState } from "./state.js";

export type ScriptResult =
  /** Every statement ran (the URI may have changed: the caller looks). */
  | { readonly kind: "next" }
  /** `rewrite ... last`: search locations again. */
  | { readonly kind: "last" }
  /** `rewrite ... break` or `break`: stop the rewrite phase here. */
  | { readonly kind: "break" }
  | { readonly kind: "return"; readonly code: number; readonly text: string | null }
  | { readonly kind: "redirect"; readonly code: 301 | 302; readonly location: string };

const NEXT: ScriptResult = { kind: "next" };

function isUrl(s: string): boolean {
  return s.startsWith("http://") || s.startsWith("https://");
}

/** Split a rewrite result into URI and arguments, nginx's "?" rules. */
function splitArgs(
  replacement: string,
  oldArgs: string,
  keepOld: boolean,
): { uri: string; args: string } {
  let r = replacement;
  let keep = keepOld;
  if (r.endsWith("?")) {
    r = r.slice(0, -1);
    keep = false;
  }
  const q = r.indexOf("?");
  if (q < 0) return { uri: r, args: keep ? oldArgs : "" };
  const mine = r.slice(q + 1);
  return {
    uri: r.slice(0, q),
    args: keep && oldArgs !== "" ? (mine === "" ? oldArgs : `${mine}&${oldArgs}`) : mine,
  };
}

function testFile(test: "f" | "d" | "e" | "x", path: string): boolean {
  try {
    const s = statSync(path);
    if (test === "f") return s.isFile();
    if (test === "d") return s.isDirectory();
    if (test === "e") return true;
    return (s.mode & 0o111) !== 0 && s.isFile();
  } catch {
    return false;
  }
}

function condition(c: IfCondition, st: RequestState, lookup: VariableLookup): boolean {
  const v = evaluate(c.kind === "file" ? c.path : c.value, lookup);
  switch (c.kind) {
    case "variable":
      return v !== "" && v !== "0";
    case "compare":
      return (v === evaluate(c.to, lookup)) !== c.negate;
    case "match": {
      const m = execRegex(c.regex, v);
      if (m !== null && !c.negate) st.setCaptures(m);
      return (m !== null) !== c.negate;
    }
    case "file":
      return testFile(c.test, v) !== c.negate;
  }
}

/**
 * Run a script. `inLocation` decides whether an `if` block's settings take over.
 *
 * @example
 *   const r = runScript(loc.script, st, true);
 *   if (r.kind === "last") { ...search locations again... }
 */
export function runScript(
  script: readonly Statement[],
  st: RequestState,
  inLocation: boolean,
): ScriptResult {
  if (script.length === 0) return NEXT;
  const lookup = st.lookup;
  for (const s of script) {
    switch (s.kind) {
      case "set":
        (st.setVars ??= new Map()).set(s.variable, evaluate(s.value, lookup));
        break;
      case "break":
        return { kind: "break" };
      case "return":
        return {
          kind: "return",
          code: s.code,
          text: s.text === null ? null : evaluate(s.text, lookup),
        };
      case "if": {
        if (!condition(s.condition, st, lookup)) break;
        if (inLocation) st.conf = s.conf;
        const r = runScript(s.script, st, inLocation);
        if (r.kind !== "next") return r;
        break;
      }
      case "rewrite": {
        const m = execRegex(s.regex, st.uri);
        if (m === null) break;
        st.setCaptures(m);
        const value = evaluate(s.replacement, lookup);
        if (isUrl(value) || s.flag === "redirect" || s.flag === "permanent") {
          const { uri, args } = splitArgs(value, st.args, true);
          const location = uri + (args !== "" ? "?" + args : "");
          return { kind: "redirect", code: s.flag === "permanent" ? 301 : 302, location };
        }
        const { uri, args } = splitArgs(value, st.args, true);
        st.uri = uri;
        st.args = args;
        st.uriChanged = true;
        st.internal = true;
        if (s.flag !== "break") st.uriChanges++;
        if (s.flag === "last") return { kind: "last" };
        if (s.flag === "break") return { kind: "break" };
        break;
      }
    }
  }
  return NEXT;
}
