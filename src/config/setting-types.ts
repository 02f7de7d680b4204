/**
 * How a setting is declared. One table of these (settings.ts) drives the command-line
 * parser, environment variables, Gunicorn-style config files and docs/settings.md.
 */

export type SettingKind =
  | "int"
  | "float"
  | "string"
  | "bool"
  | "list" // repeatable flag, collects strings
  | "size" // bytes: 1024, 8k, 1m, 1g (nginx units)
  | "duration" // seconds; accepts 30, 30s, 500ms, 1m
  | "enum";

export interface SettingDecl {
  /** snake_case name, as in a Gunicorn config file (`limit_request_line = 4094`). */
  readonly name: string;
  /** Command-line flags: long first (`--limit-request-line`), then any short (`-w`). */
  readonly flags: readonly string[];
  readonly kind: SettingKind;
  readonly default: SettingValue;
  /** Allowed values for kind "enum". */
  readonly choices?: readonly string[];
  /** Smallest allowed numeric value. */
  readonly min?: number;
  /** Value placeholder in --help, e.g. "INT". */
  readonly meta?: string;
  readonly section: string;
  /** One paragraph for --help and docs/settings.md. */
  readonly doc: string;
  /** Environment variable consulted when the flag is not given (e.g. WEB_CONCURRENCY). */
  readonly env?: string;
}

export type SettingValue = number | string | boolean | readonly string[] | null;

/** `--event-loop-sched` / `event_loop_sched`: the event loop's CPU scheduling policy (arbiter/sched.ts). */
export type EventLoopSched = "auto" | "batch" | "normal";
export const EVENT_LOOP_SCHED_CHOICES: readonly EventLoopSched[] = ["auto", "batch", "normal"];
