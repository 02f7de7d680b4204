/**
 * How a directive is declared. One table of these (table.ts, assembled from the
 * directives-*.ts files) drives parsing, validation, inheritance and docs/config.md,
 * like nginx's ngx_command_t arrays.
 */
import { ConfigError } from "../../core/errors.js";
import type { HttpConf, MainConf, StatementBody } from "./model.js";
import type { CompiledRegex } from "./regex.js";
import type { Template } from "./variables.js";

/**
 * Where a directive may appear. `sif`/`lif` are `if` blocks in a server / a location
 * (nginx's NGX_HTTP_SIF_CONF / NGX_HTTP_LIF_CONF); `app` is reserved for the WSGI app
 * block of issue 6.
 */
export type Context =
  "main" | "events" | "http" | "server" | "location" | "sif" | "lif" | "upstream" | "app";

/** Everything a directive's parser needs: the position (for errors) and helpers. */
export interface ApplyContext {
  readonly name: string;
  readonly args: readonly string[];
  readonly quoted: readonly boolean[];
  readonly file: string;
  readonly line: number;
  /** The prefix relative paths are resolved against. */
  readonly prefix: string;
  readonly context: Context;
  /** Throw `message in FILE:LINE`. */
  fail(message: string): never;
  /** Throw `invalid value "VALUE" in "NAME" directive in FILE:LINE`. */
  invalid(value: string): never;
  /** Compile a value with variables, checking its syntax (names are checked at the end). */
  template(text: string): Template;
  /** Compile a regex (`caseless` for `~*`), registering its named captures as variables. */
  regex(source: string, caseless: boolean): CompiledRegex;
  /** An absolute path: relative ones are joined to the prefix. */
  path(text: string): string;
  /** Declare a variable (`set $name`). */
  declareVariable(name: string): void;
  /** Named `log_format`s defined so far (`access_log` must name one of them). */
  hasLogFormat(name: string): boolean;
}

/** The settings a directive can write, by scope family. */
export type SettingKey =
  keyof HttpConf | keyof MainConf | UpstreamKey | ServerKey | GlobalKey | AppKey;
/** A setting of an `app` block: `app.` + its name in the settings table (directives-app.ts). */
export type AppKey = `app.${string}`;
export type UpstreamKey =
  | "upstream_server"
  | "upstream_balance"
  | "upstream_keepalive"
  | "upstream_keepalive_timeout"
  | "upstream_keepalive_requests";
export type ServerKey = "listen" | "server_name";
export type GlobalKey = "log_format";

/** How a setting reaches nested levels (nginx's merge_loc_conf callbacks). */
export type MergeKind =
  /** Unset at a level → the enclosing level's value (lists are taken whole, as nginx's add_header). */
  | "inherit"
  /** Applies only where written (try_files, internal, proxy_pass). */
  | "none";

export interface SettingHandler {
  readonly kind: "setting";
  readonly key: SettingKey;
  readonly merge: MergeKind;
  /** May the directive repeat in one block? If so `accumulate` combines the values. */
  readonly multiple: boolean;
  parse(c: ApplyContext): unknown;
  accumulate?(prev: unknown, next: unknown): unknown;
  /** The value when not set anywhere and `default` is null. */
  readonly unset?: unknown;
}

export interface StatementHandler {
  readonly kind: "statement";
  parse(c: ApplyContext): StatementBody | null;
}

/** Blocks the builder handles itself (http, events, server, location, if, upstream, types). */
export interface StructureHandler {
  readonly kind: "structure";
}

/** Accepted and validated, stored nowhere (moot in narwhal's design). */
export interface IgnoreHandler {
  readonly kind: "ignore";
  validate?(c: ApplyContext): void;
}

export interface DirectiveDecl {
  readonly name: string;
  readonly contexts: readonly Context[];
  /** Minimum and maximum number of arguments (Infinity for "1 or more"). */
  readonly args: readonly [number, number];
  /** True for `name ... { }`. */
  readonly block: boolean;
  /** Syntax line for the docs, e.g. "root path;". */
  readonly syntax: string;
  /** The default as it would be written in the config (parsed with the same parser), or null. */
  readonly default: string | null;
  readonly section: string;
  /** "honoured" works; "moot" is accepted and has no effect; "later" is parsed now and implemented by a later issue. */
  readonly effect: "honoured" | "moot" | "later";
  readonly doc: string;
  readonly handler: SettingHandler | StatementHandler | StructureHandler | IgnoreHandler;
}

/** Error with nginx's wording and position. */
export function configError(message: string, file: string, line: number): ConfigError {
  return new ConfigError(message, file, line);
}
