/**
 * nginx variables in config values: a template such as `$scheme://$host$request_uri` is
 * compiled once into literal and variable parts (nginx's script compiler,
 * ngx_http_script.c) and evaluated per request with a lookup function supplied by the
 * request pipeline.
 *
 * Syntax (as nginx): `$name` where name is [A-Za-z0-9_]+, `${name}` to separate a name
 * from following letters, `$1`..`$9` (one digit, `$0` the whole match) for regex
 * captures. A `$` followed by anything else is an error.
 *
 * @example
 *   const t = compileTemplate("$scheme://$host$request_uri");
 *   evaluate(t, (name) => vars[name]);   // "http://example.com/x?y"
 */

export type TemplatePart = string | { readonly variable: string } | { readonly capture: number };

export interface Template {
  /** The text as written in the config. */
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** True when there is nothing to evaluate (the value is `source`). */
  readonly constant: boolean;
}

/** Variables whose value is looked up per request. Names are lower case. */
export const VARIABLES: readonly string[] = [
  // issue 5
  "host",
  "remote_addr",
  "remote_port",
  "scheme",
  "request_uri",
  "uri",
  "document_uri",
  "args",
  "query_string",
  "is_args",
  "request_method",
  "request",
  "server_name",
  "server_port",
  "server_addr",
  "server_protocol",
  "status",
  "body_bytes_sent",
  "bytes_sent",
  "request_time",
  "time_local",
  "time_iso8601",
  "msec",
  "connection",
  "connection_requests",
  "document_root",
  "realpath_root",
  "request_length",
  // issue 6: the proxy
  "proxy_add_x_forwarded_for",
  "proxy_host",
  "proxy_port",
  "upstream_addr",
  "upstream_status",
  "upstream_response_time",
  // present in every nginx and used by stock configs
  "content_type",
  "content_length",
  "hostname",
  "pid",
  "nginx_version",
  "remote_user",
  "request_filename",
  "request_body",
];

/** Families of variables: `$http_user_agent`, `$arg_page`, `$cookie_sid`, ... */
export const VARIABLE_PREFIXES: readonly string[] = [
  "http_",
  "arg_",
  "cookie_",
  "sent_http_",
  "upstream_http_",
];

const KNOWN = new Set(VARIABLES);

/** Whether `name` is a built-in variable (prefixed families included). */
export function isBuiltinVariable(name: string): boolean {
  const n = name.toLowerCase();
  if (KNOWN.has(n)) return true;
  return VARIABLE_PREFIXES.some((p) => n.startsWith(p) && n.length > p.length);
}

/** Thrown by compileTemplate; the caller adds FILE:LINE. */
export class TemplateSyntaxError extends Error {}

const NAME_CHAR = /[A-Za-z0-9_]/;

/** Compile config text with variables. Throws TemplateSyntaxError on bad syntax. */
export function compileTemplate(source: string): Template {
  const parts: TemplatePart[] = [];
  let lit = "";
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c !== "$") {
      lit += c;
      continue;
    }
    const next = source[i + 1];
    if (next !== undefined && next >= "0" && next <= "9") {
      if (lit) parts.push(lit);
      lit = "";
      parts.push({ capture: Number(next) });
      i++;
      continue;
    }
    let name = "";
    if (next === "{") {
      const close = source.indexOf("}", i + 2);
      if (close < 0) {
        throw new TemplateSyntaxError(
          `the closing bracket in "${source.slice(i + 2)}" variable is missing`,
        );
      }
      name = source.slice(i + 2, close);
      if (name === "" || !/^[A-Za-z0-9_]+$/.test(name)) {
        throw new TemplateSyntaxError("invalid variable name");
      }
      i = close;
    } else {
      let j = i + 1;
      while (j < source.length && NAME_CHAR.test(source[j]!)) j++;
      name = source.slice(i + 1, j);
      if (name === "") throw new TemplateSyntaxError("invalid variable name");
      i = j - 1;
    }
    if (lit) parts.push(lit);
    lit = "";
    parts.push({ variable: name.toLowerCase() });
  }
  if (lit || parts.length === 0) parts.push(lit);
  const constant = parts.every((p) => typeof p === "string");
  return Object.freeze({ source, parts: Object.freeze(parts), constant });
}

/** Names of the variables a template reads (not captures). */
export function templateVariables(t: Template): string[] {
  const out: string[] = [];
  for (const p of t.parts) if (typeof p !== "string" && "variable" in p) out.push(p.variable);
  return out;
}

/**
 * Variable lookup: returns the value, or null/undefined for "not set" (evaluates to "").
 * Captures are looked up by their number as a string ("1").
 */
export type VariableLookup = (name: string) => string | null | undefined;

/** Regex captures as the router and server selection return them. */
export interface CaptureSet {
  readonly numbered: readonly string[];
  readonly named: Readonly<Record<string, string>>;
}

/**
 * A lookup that answers `$0`..`$9` and named captures from `captures`, everything else
 * from `base` (the request's variables).
 *
 * @example
 *   evaluate(t, withCaptures(match.captures, (name) => requestVariable(req, name)))
 */
export function withCaptures(captures: CaptureSet, base: VariableLookup): VariableLookup {
  return (name) => {
    if (/^\d$/.test(name)) return captures.numbered[Number(name)] ?? "";
    if (Object.hasOwn(captures.named, name)) return captures.named[name];
    return base(name);
  };
}

/** Evaluate a compiled template. */
export function evaluate(t: Template, lookup: VariableLookup): string {
  if (t.constant) return t.source;
  let out = "";
  for (const p of t.parts) {
    if (typeof p === "string") out += p;
    else if ("variable" in p) out += lookup(p.variable) ?? "";
    else out += lookup(String(p.capture)) ?? "";
  }
  return out;
}
