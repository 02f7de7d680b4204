/**
 * Gunicorn config files (`-c gunicorn.conf.py`, `-c file:PATH`, `-c python:MODULE`).
 *
 * The file is Python, executed by the Python interpreter (python/narwhal_config_loader.py)
 * exactly as Gunicorn executes it, so computed values work
 * (`workers = multiprocessing.cpu_count() * 2 + 1`). The loader prints the module's
 * public names as JSON; this module maps them onto the SETTINGS table:
 *
 * - a known setting with a value of the right type is taken (Gunicorn's leniency kept:
 *   `workers = "4"`, `bind = "host:port"` for a list, `user = 1000`);
 * - a lower-case name that is no setting is an error, reported by name and line
 *   (`unknown setting "wrokers" in gunicorn.conf.py:3`): Gunicorn silently ignores typos;
 *   names starting with `_` or containing an upper-case letter (constants) are helpers
 *   and are skipped, as are imported modules, classes and functions;
 * - Gunicorn server hooks (`post_fork`, `when_ready`, ...) and Gunicorn settings narwhal
 *   does not implement (`worker_class`, `statsd_host`, ...) are ignored with a warning;
 *   TLS settings (`certfile`, `keyfile`, `ca_certs`, `ssl_context`) are errors, since
 *   ignoring them would silently serve plain HTTP.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";
import { repoRoot } from "../core/paths.js";
import type { SettingDecl, SettingValue } from "./setting-types.js";
import { SETTINGS, settingByName } from "./settings.js";
import { convertValue } from "./values.js";

/** What python/narwhal_config_loader.py prints. */
export interface LoaderOutput {
  readonly file: string | null;
  readonly values: Readonly<Record<string, unknown>>;
  readonly others: Readonly<Record<string, string>>;
  readonly lines: Readonly<Record<string, number>>;
}

export interface PyConfig {
  /** The location as the user wrote it (used in messages). */
  readonly location: string;
  /** Settings the file sets, converted to the table's value types. */
  readonly values: ReadonlyMap<string, SettingValue>;
  /** One line each: ignored hooks and unsupported Gunicorn settings. */
  readonly warnings: readonly string[];
}

/** Gunicorn server hooks: Python callables run in Gunicorn's master or workers. */
export const GUNICORN_HOOKS: ReadonlySet<string> = new Set([
  "on_starting",
  "on_reload",
  "when_ready",
  "pre_fork",
  "post_fork",
  "post_worker_init",
  "worker_int",
  "worker_abort",
  "pre_exec",
  "pre_request",
  "post_request",
  "child_exit",
  "worker_exit",
  "nworkers_changed",
  "on_exit",
  "ssl_context",
  "on_dirty_starting",
  "dirty_post_fork",
  "dirty_worker_init",
  "dirty_worker_exit",
]);

/** Gunicorn 26 settings (gunicorn/config.py) that narwhal's table does not have. */
const GUNICORN_ONLY: ReadonlySet<string> = new Set(
  (
    "config worker_class reload_engine reload_extra_files spew sendfile reuse_port daemon " +
    "worker_tmp_dir initgroups tmp_upload_dir secure_scheme_headers disable_redirect_access_to_syslog " +
    "capture_output logger_class logconfig logconfig_dict logconfig_json syslog_addr syslog " +
    "syslog_prefix syslog_facility enable_stdio_inheritance statsd_host dogstatsd_tags statsd_prefix " +
    "enable_backlog_metric default_proc_name paste protocol uwsgi_allow_ips keyfile certfile " +
    "ssl_version cert_reqs ca_certs suppress_ragged_eofs do_handshake_on_connect ciphers " +
    "http_protocols http2_cleartext http2_max_concurrent_streams http2_initial_window_size " +
    "http2_max_frame_size http2_max_header_list_size raw_paste_global_conf " +
    "permit_unconventional_http_version forwarder_headers asgi_loop asgi_lifespan " +
    "asgi_disconnect_grace_period http_parser root_path dirty_apps dirty_workers dirty_timeout " +
    "dirty_threads dirty_graceful_timeout control_socket control_socket_mode control_socket_disable"
  ).split(" "),
);

/** Ignoring these would serve plain HTTP where the operator asked for TLS. */
const TLS_SETTINGS: ReadonlySet<string> = new Set([
  "keyfile",
  "certfile",
  "ca_certs",
  "ssl_context",
]);

/** `-c` values that name a Gunicorn config (everything else is an nginx-syntax config). */
export function isPyConfigLocation(location: string): boolean {
  return location.startsWith("python:") || location.startsWith("file:") || /\.pyc?$/.test(location);
}

export interface LoadOptions {
  /** The interpreter to run the file with. */
  readonly python: string;
  /** Put first on sys.path, as Gunicorn's chdir does before loading the config. */
  readonly cwd: string;
  readonly timeoutMs?: number;
}

/** Run the config file in Python and map its names; throws ConfigError. */
export function loadPyConfig(location: string, opts: LoadOptions): PyConfig {
  if (!location.startsWith("python:")) {
    const path = location.startsWith("file:") ? location.slice("file:".length) : location;
    if (!existsSync(resolve(opts.cwd, path)))
      throw new ConfigError(`config file ${JSON.stringify(location)} doesn't exist`);
  }
  const script = join(repoRoot(), "python", "narwhal_config_loader.py");
  const r = spawnSync(opts.python, [script, location, opts.cwd], {
    cwd: opts.cwd,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 30_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) {
    throw new ConfigError(`cannot run ${opts.python} to read ${location}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status ?? "?"}`;
    throw new ConfigError(
      `failed to read config file ${location} (${why}):\n${r.stderr.trimEnd()}`,
    );
  }
  // Anything the file printed went to stderr; pass it on like Gunicorn would show it.
  if (r.stderr) process.stderr.write(r.stderr);
  let out: LoaderOutput;
  try {
    out = JSON.parse(r.stdout) as LoaderOutput;
  } catch {
    throw new ConfigError(`failed to read config file ${location}: the loader printed no JSON`);
  }
  return mapPyConfig(out, location);
}

/** Map the loader's names onto the settings table (pure: tests call it directly). */
export function mapPyConfig(out: LoaderOutput, location: string): PyConfig {
  const values = new Map<string, SettingValue>();
  const warnings: string[] = [];
  const errors: string[] = [];
  const where = (name: string): string => {
    const line = out.lines[name];
    return line === undefined ? location : `${location}:${line}`;
  };
  const names = [
    ...Object.keys(out.values).map((n) => [n, true] as const),
    ...Object.keys(out.others).map((n) => [n, false] as const),
  ];
  names.sort((a, b) => (out.lines[a[0]] ?? 0) - (out.lines[b[0]] ?? 0));
  for (const [name, isJson] of names) {
    if (name.startsWith("_") || /[A-Z]/.test(name)) continue;
    const otherType = isJson ? null : out.others[name]!;
    const decl = settingByName(name);
    if (decl) {
      const v = isJson
        ? fromPython(decl, out.values[name])
        : { error: `${expected(decl)}, not ${otherType!}` };
      if (typeof v === "object" && v !== null && "error" in v)
        errors.push(`invalid value for setting "${name}" in ${where(name)}: ${v.error}`);
      else values.set(name, v);
      continue;
    }
    if (GUNICORN_HOOKS.has(name)) {
      if (name === "ssl_context")
        errors.push(
          `"ssl_context" in ${where(name)}: narwhal does not terminate TLS; put a TLS proxy in front`,
        );
      else
        warnings.push(`${where(name)}: server hook "${name}" is not supported by narwhal; ignored`);
      continue;
    }
    if (GUNICORN_ONLY.has(name)) {
      const v = out.values[name];
      if (TLS_SETTINGS.has(name) && v !== null && v !== undefined && v !== "") {
        errors.push(
          `"${name}" in ${where(name)}: narwhal does not terminate TLS; put a TLS proxy in front`,
        );
      } else if (name !== "config") {
        warnings.push(
          `${where(name)}: Gunicorn setting "${name}" is not supported by narwhal; ignored`,
        );
      }
      continue;
    }
    // Imports (`import multiprocessing`, `from os import cpu_count`) and helper
    // functions or classes are not settings; only plain values can be typos.
    if (!isJson && (otherType === "module" || otherType === "function" || otherType === "type"))
      continue;
    const hint = suggest(name);
    errors.push(
      `unknown setting "${name}" in ${where(name)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
    );
  }
  if (errors.length > 0) {
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1).join("; ")})` : "";
    throw new ConfigError(errors[0]! + more);
  }
  return { location, values, warnings };
}

function expected(decl: SettingDecl): string {
  switch (decl.kind) {
    case "int":
      return "expected an integer";
    case "float":
      return "expected a number";
    case "duration":
      return "expected a number of seconds";
    case "size":
      return "expected a size in bytes (or a string such as '1m')";
    case "bool":
      return "expected True or False";
    case "enum":
      return `expected one of ${(decl.choices ?? []).map((c) => JSON.stringify(c)).join(", ")}`;
    case "list":
      return "expected a string or a list of strings";
    case "string":
      return "expected a string";
  }
}

/** Python value (as JSON) → the table's type, with Gunicorn's validators' leniency. */
export function fromPython(decl: SettingDecl, v: unknown): SettingValue | { error: string } {
  const typeName = pyTypeName(v);
  const wrong = {
    error: `${expected(decl)}, not ${typeName}${typeName === "str" ? ` ${JSON.stringify(v)}` : ""}`,
  };
  if (v === null) return decl.default === null ? null : wrong;
  const viaText = (text: string): SettingValue | { error: string } => {
    const r = convertValue(decl, text);
    if (typeof r === "object" && r !== null && "error" in r) {
      const why = /\(([^()]*)\)$/.exec(r.error)?.[1] ?? r.error;
      return { error: `${why}: ${JSON.stringify(v)}` };
    }
    return r;
  };
  switch (decl.kind) {
    case "int":
    case "float":
    case "duration":
    case "size":
      if (typeof v === "number") return viaText(String(v));
      if (typeof v === "string") return viaText(v); // validate_pos_int: int("4")
      return wrong;
    case "bool":
      if (typeof v === "boolean") return v;
      if (typeof v === "string") return viaText(v); // validate_bool accepts "true"/"false"
      return wrong;
    case "enum":
      return typeof v === "string" ? viaText(v) : wrong;
    case "list":
      // validate_list_string: a single string is a one-element list.
      if (typeof v === "string") return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
      return wrong;
    case "string":
      if (typeof v === "string") return v;
      if (typeof v === "number" && Number.isInteger(v) && v >= 0) {
        // user/group take a numeric id; umask an int that Python wrote in octal (0o22).
        if (decl.name === "umask") return "0o" + v.toString(8);
        if (decl.name === "user" || decl.name === "group") return String(v);
      }
      return wrong;
  }
}

function pyTypeName(v: unknown): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "str";
  if (Array.isArray(v)) return "list";
  return "dict";
}

/** The closest setting name within edit distance 2, for typos. */
function suggest(name: string): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const s of SETTINGS) {
    const d = editDistance(name, s.name);
    if (d < bestD) {
      bestD = d;
      best = s.name;
    }
  }
  return best;
}

/** Optimal string alignment distance: a transposition ("wrokers") counts as one edit. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
