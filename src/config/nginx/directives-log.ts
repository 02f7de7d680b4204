/** Logging: access_log, log_format, error_log. */
import type { ApplyContext, DirectiveDecl } from "./directive-types.js";
import type { AccessLog, ErrorLog } from "./model.js";
import { HSLI, arg0, section, setting } from "./table-helpers.js";

const log = section("Logging");
const LEVELS = ["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"] as const;

function parseErrorLog(c: ApplyContext): readonly ErrorLog[] {
  const target = arg0(c);
  const path = target === "stderr" ? "stderr" : c.path(target);
  const level = (c.args[1] ?? "error") as ErrorLog["level"];
  if (!(LEVELS as readonly string[]).includes(level)) c.fail(`invalid log level "${level}"`);
  return [{ path, level }];
}

function parseAccessLog(c: ApplyContext): readonly AccessLog[] {
  if (arg0(c) === "off") {
    if (c.args.length !== 1) c.fail('invalid number of arguments in "access_log" directive');
    return [];
  }
  const format = c.args[1] ?? "combined";
  if (!c.hasLogFormat(format)) c.fail(`unknown log format "${format}"`);
  let condition = null;
  for (const p of c.args.slice(2)) {
    if (p.startsWith("if=")) condition = c.template(p.slice(3));
    else if (!/^(buffer=|flush=|gzip(=|$))/.test(p)) c.fail(`invalid parameter "${p}"`);
  }
  const target = arg0(c);
  return [
    {
      path: c.template(
        target.startsWith("$") || target === "/dev/stdout" ? target : c.path(target),
      ),
      format,
      condition,
    },
  ];
}

export const LOG_DIRECTIVES: readonly DirectiveDecl[] = [
  log({
    name: "access_log",
    contexts: HSLI,
    args: [1, Infinity],
    syntax:
      "access_log path [format [buffer=size] [gzip[=level]] [flush=time] [if=condition]];\naccess_log off;",
    doc: "Write one line per request in the named `log_format` (default `combined`). Several may be given at one level. Default: off (nginx writes `logs/access.log`; narwhal does not invent paths). `buffer`, `gzip` and `flush` are accepted and ignored; `if=` is honoured.",
    handler: setting("access_log", parseAccessLog, {
      multiple: true,
      accumulate: (prev: readonly AccessLog[], next: readonly AccessLog[]) => [...prev, ...next],
      unset: [],
    }),
  }),
  log({
    name: "log_format",
    contexts: ["http"],
    args: [2, Infinity],
    syntax: "log_format name [escape=default|json|none] string ...;",
    doc: 'Define a named access log format with variables; the strings are concatenated. `combined` is predefined: `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.',
    handler: { kind: "structure" },
  }),
  log({
    name: "error_log",
    contexts: ["main", "http", "server", "location"],
    args: [1, 2],
    syntax: "error_log file | stderr [level];",
    doc: "Where errors are logged and from which level (`debug`, `info`, `notice`, `warn`, `error`, `crit`, `alert`, `emerg`). Default: stderr at `error`.",
    handler: setting("error_log", parseErrorLog, {
      multiple: true,
      accumulate: (prev: readonly ErrorLog[], next: readonly ErrorLog[]) => [...prev, ...next],
      unset: [{ path: "stderr", level: "error" }],
    }),
  }),
];
