/**
 * One function that turns argv + environment into the frozen Settings, layering sources
 * in Gunicorn's order (docs "Configuration Overview"), lowest first:
 *
 *   1. the table's defaults
 *   2. environment defaults: a setting's own variable (`WEB_CONCURRENCY` → workers),
 *      `PORT` → bind `0.0.0.0:$PORT`
 *   3. the config file: `-c FILE.py` (or `file:PATH`, `python:MODULE`); without `-c`,
 *      `./gunicorn.conf.py` when it exists. A `-c` that is not Python is an nginx-syntax
 *      config and is only handed back as `nginxConfigPath`.
 *   4. `GUNICORN_CMD_ARGS`, then `NARWHAL_CMD_ARGS`
 *   5. the command line
 *
 * A `-c` on the command line wins over one in the environment variables.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";
import { parseArgs, type CommandFlags } from "./cli.js";
import { envDefaults, parseEnvArgs, type Env } from "./env-args.js";
import { isPyConfigLocation, loadPyConfig } from "./pyconfig.js";
import { Settings } from "./resolved.js";
import type { SettingValue } from "./setting-types.js";
import { SETTINGS, settingByName } from "./settings.js";

/** Where a setting's value came from (for --print-config and tests). */
export type SettingSource =
  "default" | "environment" | "config" | "GUNICORN_CMD_ARGS" | "NARWHAL_CMD_ARGS" | "command line";

export interface ResolvedSettings {
  readonly settings: Settings;
  /** APP_MODULE from the command line, else the config file's `wsgi_app`, else null. */
  readonly appModule: string | null;
  /** Positional arguments after APP_MODULE. */
  readonly appArgs: readonly string[];
  /** --help / --version / -c as given on the command line. */
  readonly command: CommandFlags;
  /** The Gunicorn config that was loaded (as written, e.g. "gunicorn.conf.py"), or null. */
  readonly configPath: string | null;
  /** A `-c` that is not Python: an nginx-syntax config for the config/ nginx loader. */
  readonly nginxConfigPath: string | null;
  /** Where each setting's final value came from. */
  readonly sources: ReadonlyMap<string, SettingSource>;
  /** Non-fatal notes for the error log (ignored hooks, unsupported Gunicorn settings). */
  readonly warnings: readonly string[];
}

export interface ResolveOptions {
  /** Pick the interpreter for the config file (main.ts passes arbiter's findPython). */
  readonly findPython?: (explicit: string | null, env: Env) => string;
}

/** Without `-c`, Gunicorn loads this file from the working directory when it exists. */
export const DEFAULT_CONFIG_FILE = "gunicorn.conf.py";

/**
 * Resolve every setting; throws UsageError (bad flags) or ConfigError (bad config file,
 * unknown setting, bad environment value).
 * @example resolveSettings(["-w", "3", "app:application"], process.env, process.cwd()).settings.num("workers") // 3
 */
export function resolveSettings(
  argv: readonly string[],
  env: Env,
  cwd: string,
  opts: ResolveOptions = {},
): ResolvedSettings {
  const cli = parseArgs(argv);
  const envArgs = parseEnvArgs(env);
  const values = new Map<string, SettingValue>();
  const sources = new Map<string, SettingSource>();
  const layer = (m: ReadonlyMap<string, SettingValue>, source: SettingSource): void => {
    for (const [k, v] of m) {
      values.set(k, v);
      sources.set(k, source);
    }
  };
  const warnings: string[] = [];

  layer(envDefaults(env), "environment");
  if (env["PORT"] === undefined) sources.set("bind", "default"); // 127.0.0.1:8000 is the plain default

  // The config file: -c on the command line, else in NARWHAL_CMD_ARGS / GUNICORN_CMD_ARGS.
  let location = cli.command.config;
  if (location === null) for (const e of envArgs) location = e.parsed.command.config ?? location;
  if (location === null && existsSync(join(cwd, DEFAULT_CONFIG_FILE)))
    location = DEFAULT_CONFIG_FILE;

  let configPath: string | null = null;
  let nginxConfigPath: string | null = null;
  if (location !== null && isPyConfigLocation(location)) {
    // The interpreter named before the file is read (the file cannot choose its own reader).
    let explicit: string | null = null;
    for (const e of envArgs)
      explicit = (e.parsed.settings.get("python") as string | undefined) ?? explicit;
    explicit = (cli.settings.get("python") as string | undefined) ?? explicit;
    const python = (opts.findPython ?? defaultFindPython)(explicit, env);
    const py = loadPyConfig(location, { python, cwd });
    layer(py.values, "config");
    warnings.push(...py.warnings);
    configPath = location;
  } else if (location !== null) {
    nginxConfigPath = resolve(cwd, location);
  }

  for (const e of envArgs) {
    layer(e.parsed.settings, e.variable);
    if (e.parsed.positional.length > 0) {
      warnings.push(
        `${e.variable}: positional arguments ignored (${e.parsed.positional.join(" ")}), as Gunicorn does`,
      );
    }
  }
  layer(cli.settings, "command line");

  const settings = new Settings(values);
  parseUmask(settings.str("umask")); // fail at startup, not when the first socket is made
  for (const s of SETTINGS) if (!sources.has(s.name)) sources.set(s.name, "default");

  return {
    settings,
    appModule: cli.positional[0] ?? settings.strOrNull("wsgi_app"),
    appArgs: cli.positional.slice(1),
    command: cli.command,
    configPath,
    nginxConfigPath,
    sources,
    warnings,
  };
}

/** `--python`, else `$VIRTUAL_ENV/bin/python`, else `python3` (looked up on PATH by spawn). */
function defaultFindPython(explicit: string | null, env: Env): string {
  if (explicit) return explicit;
  const venv = env["VIRTUAL_ENV"];
  if (venv && existsSync(join(venv, "bin", "python"))) return join(venv, "bin", "python");
  return "python3";
}

/**
 * Gunicorn's umask: `auto_int`, so "022" and "0o22" are octal, "0x12" hex, "18" decimal.
 * @example parseUmask("022") // 18
 */
export function parseUmask(text: string): number {
  const t = text.trim().toLowerCase();
  let n: number;
  if (/^0o?[0-7]+$/.test(t)) n = parseInt(t.replace(/^0o?/, ""), 8);
  else if (/^0x[0-9a-f]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0b[01]+$/.test(t)) n = parseInt(t.slice(2), 2);
  else if (/^\d+$/.test(t)) n = Number(t);
  else
    throw new ConfigError(
      `invalid value for umask: ${JSON.stringify(text)} (expected an integer such as 022)`,
    );
  if (n > 0o777)
    throw new ConfigError(`invalid value for umask: ${JSON.stringify(text)} (at most 0o777)`);
  return n;
}

/**
 * `--print-config`: every setting as `name = value`, sorted and aligned like Gunicorn's
 * `print(cfg)`, values written as Python would (`None`, `True`, `['127.0.0.1:8000']`).
 */
export function formatConfig(r: ResolvedSettings): string {
  const rows: Array<[string, string]> = [["config", r.configPath ?? r.nginxConfigPath ?? "None"]];
  for (const [name, v] of r.settings.entries()) rows.push([name, pyText(name, v)]);
  rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)} = ${v}`).join("\n") + "\n";
}

function pyText(name: string, v: SettingValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (Array.isArray(v)) return `[${(v as readonly string[]).map((s) => pyStr(s)).join(", ")}]`;
  if (typeof v === "number" && settingByName(name)?.kind === "float" && Number.isInteger(v))
    return `${v}.0`;
  return String(v);
}

function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return (
    q +
    s
      .replace(/\\/g, "\\\\")
      .replace(new RegExp(q, "g"), "\\" + q)
      .replace(/\n/g, "\\n") +
    q
  );
}

/**
 * `--check-config`'s last step, as Gunicorn's: import the app module in the chosen Python
 * (with chdir, pythonpath and raw_env applied) and find the callable. Returns null when
 * it loads, else the error text (the Python traceback).
 */
export function checkAppImports(
  r: ResolvedSettings,
  env: Env,
  opts: ResolveOptions = {},
  cwd = process.cwd(),
): string | null {
  if (r.appModule === null) return "no APP_MODULE given (and no wsgi_app in the config file)";
  const s = r.settings;
  const dir = resolve(cwd, s.strOrNull("chdir") ?? ".");
  const paths = [
    dir,
    ...(s.strOrNull("pythonpath") ?? "")
      .split(",")
      .filter((p) => p.trim() !== "")
      .map((p) => resolve(dir, p.trim())),
  ];
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  for (const kv of s.list("raw_env")) {
    const eq = kv.indexOf("=");
    if (eq > 0) childEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const python = (opts.findPython ?? defaultFindPython)(s.strOrNull("python"), env);
  const code = [
    "import importlib, sys",
    "sys.path[:0] = sys.argv[2:]",
    "mod, _, attr = sys.argv[1].partition(':')",
    "obj = importlib.import_module(mod)",
    "call = attr.endswith('()')",
    "for part in (attr[:-2] if call else attr or 'application').split('.'):",
    "    obj = getattr(obj, part)",
    "obj = obj() if call else obj",
    "if not callable(obj):",
    "    sys.exit('application object %r is not callable' % (sys.argv[1],))",
  ].join("\n");
  const run = spawnSync(python, ["-c", code, r.appModule, ...paths], {
    cwd: dir,
    env: childEnv,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (run.error) return `cannot run ${python}: ${run.error.message}`;
  if (run.status === 0) return null;
  return run.stderr.trimEnd() || `python exited with status ${run.status ?? run.signal ?? "?"}`;
}
