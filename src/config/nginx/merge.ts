/**
 * Inheritance: ONE merge function for every level (http → server → location → nested
 * location, and `if` blocks), like nginx's ngx_http_core_merge_loc_conf. A setting
 * written at a level wins; otherwise an "inherit" setting takes the enclosing level's
 * merged value (lists whole: a level with one `add_header` does not see the parent's),
 * and a "none" setting (try_files, internal, proxy_pass) falls back to its default.
 *
 * Defaults come from the table itself: each directive's `default` text is parsed by the
 * directive's own parser, so docs and behaviour cannot disagree.
 */
import { isAbsolute, resolve } from "node:path";
import type {
  ApplyContext,
  Context,
  DirectiveDecl,
  MergeKind,
  SettingHandler,
} from "./directive-types.js";
import type { HttpConf, MainConf } from "./model.js";
import { compileRegex } from "./regex.js";
import { DIRECTIVES } from "./table.js";
import { compileTemplate } from "./variables.js";

export interface ScopeEntry {
  readonly value: unknown;
  /** The directive that wrote it (for "is duplicate" messages). */
  readonly directive: string;
  readonly file: string;
  readonly line: number;
}

export interface Scope {
  readonly ctx: Context;
  readonly parent: Scope | null;
  readonly values: Map<string, ScopeEntry>;
}

const HTTP_CONTEXTS: ReadonlySet<Context> = new Set(["http", "server", "location", "sif", "lif"]);

interface KeyInfo {
  readonly decl: DirectiveDecl;
  readonly handler: SettingHandler;
  readonly merge: MergeKind;
}

function keysFor(pred: (d: DirectiveDecl) => boolean): Map<string, KeyInfo> {
  const out = new Map<string, KeyInfo>();
  for (const d of DIRECTIVES) {
    if (d.handler.kind !== "setting" || !pred(d)) continue;
    const prev = out.get(d.handler.key);
    // Shared keys (root/alias, allow/deny): the declaration with a default speaks for the key.
    if (
      !prev ||
      (prev.decl.default === null &&
        !("unset" in prev.handler) &&
        (d.default !== null || "unset" in d.handler))
    ) {
      out.set(d.handler.key, { decl: d, handler: d.handler, merge: d.handler.merge });
    }
  }
  return out;
}

/** Server-block keys kept on Server itself, not in HttpConf. */
const SERVER_ONLY_KEYS: ReadonlySet<string> = new Set(["listen", "server_name"]);
const HTTP_KEYS = keysFor(
  (d) =>
    d.contexts.some((c) => HTTP_CONTEXTS.has(c)) &&
    !SERVER_ONLY_KEYS.has((d.handler as SettingHandler).key),
);
const MAIN_KEYS = keysFor((d) => d.contexts.includes("main") || d.contexts.includes("events"));
const UPSTREAM_KEYS = keysFor((d) => d.contexts.includes("upstream"));

/** Split a default's text into arguments (`""` is one empty argument). */
function defaultArgs(text: string): string[] {
  return text.split(" ").map((a) => (a === '""' ? "" : a));
}

function defaultContext(d: DirectiveDecl, prefix: string): ApplyContext {
  const args = defaultArgs(d.default ?? "");
  const bug = (m: string): never => {
    throw new Error(`default of "${d.name}" does not parse: ${m}`);
  };
  return {
    name: d.name,
    args,
    quoted: args.map(() => false),
    file: "<default>",
    line: 0,
    prefix,
    context: "http",
    fail: bug,
    invalid: bug,
    template: compileTemplate,
    regex: (s, i) => {
      const r = compileRegex(s, i);
      return "error" in r ? bug(r.error) : r;
    },
    path: (t) => (isAbsolute(t) ? t : resolve(prefix, t)),
    declareVariable: () => undefined,
    hasLogFormat: () => true,
  };
}

function defaultsOf(keys: Map<string, KeyInfo>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, k] of keys) {
    if (k.decl.default !== null) out[key] = k.handler.parse(defaultContext(k.decl, prefix));
    else if ("unset" in k.handler) out[key] = k.handler.unset;
    else throw new Error(`directive "${k.decl.name}" has neither a default nor an unset value`);
  }
  return out;
}

/** nginx's built-in `types` when none is configured (ngx_http_core_default_types). */
const NGINX_DEFAULT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html",
  gif: "image/gif",
  jpg: "image/jpeg",
};

/** Every HttpConf setting at its default (relative default paths against `prefix`). */
export function httpDefaults(prefix: string): HttpConf {
  const types = Object.assign(Object.create(null) as Record<string, string>, NGINX_DEFAULT_TYPES);
  return { ...defaultsOf(HTTP_KEYS, prefix), types } as unknown as HttpConf;
}

/** Defaults of the settings written inside `upstream` blocks, by key. */
export function upstreamDefaults(prefix: string): Readonly<Record<string, unknown>> {
  return defaultsOf(UPSTREAM_KEYS, prefix);
}

export function mainDefaults(prefix: string): MainConf {
  return defaultsOf(MAIN_KEYS, prefix) as unknown as MainConf;
}

/** Merge a scope with its ancestors (memoised per scope). `base` is the level above http. */
export function mergeConf(scope: Scope, base: HttpConf, memo: Map<Scope, HttpConf>): HttpConf {
  const hit = memo.get(scope);
  if (hit) return hit;
  const parent =
    scope.parent && HTTP_CONTEXTS.has(scope.parent.ctx)
      ? mergeConf(scope.parent, base, memo)
      : base;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(base)) {
    const own = scope.values.get(key);
    const kind = HTTP_KEYS.get(key)?.merge ?? "inherit";
    out[key] = own
      ? own.value
      : kind === "inherit"
        ? (parent as unknown as Record<string, unknown>)[key]
        : (base as unknown as Record<string, unknown>)[key];
  }
  const merged = out as unknown as HttpConf;
  memo.set(scope, merged);
  return merged;
}

/** Freeze an object graph (objects, arrays, their members), once, before any request. */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (value === null || typeof value !== "object" || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, seen);
      deepFreeze(v, seen);
    }
  } else if (!(value instanceof RegExp)) {
    for (const k of Reflect.ownKeys(value))
      deepFreeze((value as Record<string | symbol, unknown>)[k], seen);
  }
  return Object.freeze(value);
}
