/**
 * `proxy_redirect`: rewrite the Location and Refresh headers of upstream replies
 * (ngx_http_proxy_rewrite_redirect and its handlers). Rules are tried in order, the
 * first match wins. A prefix rule matches the start of the value, case-sensitively; a
 * regex rule replaces the whole value (or, for Refresh, what follows "url=").
 *
 * `default` stands for `proxy_redirect <proxy_pass URL> <location>` when proxy_pass has
 * a URI part, else `proxy_redirect <proxy_pass URL>/ /`.
 */
import type { RedirectRule, RedirectSpec, VarGetter } from "./types.js";

export interface DefaultRedirect {
  /** scheme://host[:port] of proxy_pass as written. */
  readonly url: string;
  /** The URI part of proxy_pass, null when none. */
  readonly uri: string | null;
  /** The location's name (prefix), for the replacement. */
  readonly location: string | null;
}

interface ResolvedRule {
  apply(value: string, vars: VarGetter): string | null;
}

function prefixRule(
  pattern: (v: VarGetter) => string,
  replacement: (v: VarGetter) => string,
): ResolvedRule {
  return {
    apply(value, vars) {
      const p = pattern(vars);
      if (!value.startsWith(p)) return null;
      return replacement(vars) + value.slice(p.length);
    },
  };
}

function resolve(rule: RedirectRule | "default", def: DefaultRedirect | null): ResolvedRule | null {
  if (rule === "default") {
    // proxy_pass with variables has no static URL: `default` is then a config error in
    // nginx; the config layer rejects it, so here it simply matches nothing.
    if (def === null) return null;
    if (def.uri !== null) {
      const pat = def.url + def.uri;
      const loc = def.location ?? "/";
      return prefixRule(
        () => pat,
        () => loc,
      );
    }
    const pat = def.url + "/";
    return prefixRule(
      () => pat,
      () => "/",
    );
  }
  if (rule.kind === "prefix") return prefixRule(rule.pattern, rule.replacement);
  const re = rule.pattern;
  const repl = rule.replacement;
  return {
    apply(value, vars) {
      re.lastIndex = 0;
      const m = re.exec(value);
      if (m === null) return null;
      return repl(m, vars);
    },
  };
}

export class RedirectRewriter {
  private readonly rules: ResolvedRule[];

  constructor(spec: RedirectSpec, def: DefaultRedirect | null) {
    this.rules = [];
    if (spec === "off") return;
    for (const r of spec) {
      const rr = resolve(r, def);
      if (rr !== null) this.rules.push(rr);
    }
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Rewrite a Location value; unchanged when no rule matches. */
  location(value: string, vars: VarGetter): string {
    for (const r of this.rules) {
      const out = r.apply(value, vars);
      if (out !== null) return out;
    }
    return value;
  }

  /** Rewrite the URL after "url=" (case-insensitive) in a Refresh value. */
  refresh(value: string, vars: VarGetter): string {
    const at = value.toLowerCase().indexOf("url=");
    if (at < 0) return value;
    const head = value.slice(0, at + 4);
    const url = value.slice(at + 4);
    return head + this.location(url, vars);
  }
}
