/**
 * Settings from the environment, as Gunicorn reads them (gunicorn/config.py):
 *
 * - `GUNICORN_CMD_ARGS` and `NARWHAL_CMD_ARGS`: command-line options in one variable,
 *   split like Python's `shlex.split`; they rank above the config file and below the
 *   real command line. When both are set, NARWHAL_CMD_ARGS wins over GUNICORN_CMD_ARGS.
 *   Positional arguments in them are ignored, as Gunicorn ignores them.
 * - per-setting variables declared in the table (`env: "WEB_CONCURRENCY"` on `workers`),
 *   and `PORT` (bind `0.0.0.0:$PORT`): these only change the *defaults*, below the config
 *   file.
 */
import { ConfigError, UsageError } from "../core/errors.js";
import { parseArgs, type ParsedArgs } from "./cli.js";
import type { SettingValue } from "./setting-types.js";
import { SETTINGS } from "./settings.js";
import { convertValue } from "./values.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables holding command-line options, lowest priority first. */
export const CMD_ARGS_VARS = ["GUNICORN_CMD_ARGS", "NARWHAL_CMD_ARGS"] as const;

export interface EnvArgs {
  readonly variable: (typeof CMD_ARGS_VARS)[number];
  readonly parsed: ParsedArgs;
}

/** Parse GUNICORN_CMD_ARGS then NARWHAL_CMD_ARGS (those set); throws UsageError naming the variable. */
export function parseEnvArgs(env: Env): EnvArgs[] {
  const out: EnvArgs[] = [];
  for (const variable of CMD_ARGS_VARS) {
    const text = env[variable];
    if (text === undefined) continue;
    try {
      out.push({ variable, parsed: parseArgs(shlexSplit(text)) });
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${variable}: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/**
 * Defaults that come from the environment: each setting's `env` variable, and `PORT`
 * (Gunicorn: bind defaults to `0.0.0.0:$PORT` when PORT is set, else 127.0.0.1:8000).
 */
export function envDefaults(env: Env): Map<string, SettingValue> {
  const out = new Map<string, SettingValue>();
  for (const decl of SETTINGS) {
    if (decl.env === undefined) continue;
    const text = env[decl.env];
    if (text === undefined) continue;
    const v = convertValue(decl, text);
    if (typeof v === "object" && v !== null && "error" in v) {
      const why = /\(([^()]*)\)$/.exec(v.error)?.[1] ?? v.error;
      throw new ConfigError(
        `invalid value for environment variable ${decl.env}: ${JSON.stringify(text)} (${why})`,
      );
    }
    out.set(decl.name, v);
  }
  const port = env["PORT"];
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
      throw new ConfigError(
        `invalid value for environment variable PORT: ${JSON.stringify(port)} (expected a port number)`,
      );
    }
    out.set("bind", [`0.0.0.0:${port}`]);
  } else out.set("bind", ["127.0.0.1:8000"]);
  return out;
}

/**
 * Python's `shlex.split(text)` (POSIX mode, no comments): whitespace separates words;
 * `'...'` is literal; inside `"..."` a backslash escapes only `"` and `\`; elsewhere a
 * backslash escapes any character. Throws UsageError on an unclosed quote.
 * @example shlexSplit(`--bind=127.0.0.1:9 -n "my app"`) // ["--bind=127.0.0.1:9", "-n", "my app"]
 */
export function shlexSplit(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError("No closing quotation");
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new UsageError("No closing quotation");
        const d = text[i]!;
        if (d === '"') break;
        if (d === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) {
          word += text[i + 1]!;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new UsageError("No escaped character");
      word += text[i + 1]!;
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
