/**
 * nginx's command-line grammar (ngx_get_options), used when narwhal runs an
 * nginx-syntax config. Gunicorn's grammar reuses -t, -p, -g and -e with other meanings,
 * so the mode is decided first (isNginxInvocation) and then one grammar applies whole.
 *
 *   narwhal [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename] [-g directives]
 *
 * Single-letter flags may be combined (`-tq`); values may be attached (`-cFILE`).
 */
import { UsageError } from "../../core/errors.js";

export type NginxSignal = "reload" | "reopen" | "quit" | "stop";

export interface NginxFlags {
  help: boolean;
  /** -v */
  version: boolean;
  /** -V: version and build details. */
  versionVerbose: boolean;
  /** -t */
  test: boolean;
  /** -T: test and dump the config files. */
  dump: boolean;
  /** -q: no non-error messages while testing. */
  quiet: boolean;
  /** -c */
  config: string | null;
  /** -p */
  prefix: string | null;
  /** -e: error log ("stderr" or a path) used from startup on. */
  errorLog: string | null;
  /** -g: extra main-context directives. */
  globals: string | null;
  /** -s */
  signal: NginxSignal | null;
}

const NGINX_ONLY = new Set(["-s", "-T", "-V", "-q", "-?"]);

/** The value of -c/--config in argv, in either grammar, or null. */
function configArg(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return null;
    if (a === "-c" || a === "--config") return argv[i + 1] ?? null;
    if (a.startsWith("--config=")) return a.slice(9);
    if (a.startsWith("-c") && a.length > 2 && !a.startsWith("--")) return a.slice(2);
  }
  return null;
}

/**
 * True when argv asks for nginx mode: `-c FILE` where FILE is not a `.py` file, or a
 * flag only nginx has (-s, -T, -V, -q, -?).
 */
export function isNginxInvocation(argv: readonly string[]): boolean {
  const c = configArg(argv);
  if (c !== null && !c.endsWith(".py")) return true;
  return argv.some((a) => NGINX_ONLY.has(a) || /^-[tq]*[TVs]/.test(a));
}

export function parseNginxArgs(argv: readonly string[]): NginxFlags {
  const f: NginxFlags = {
    help: false,
    version: false,
    versionVerbose: false,
    test: false,
    dump: false,
    quiet: false,
    config: null,
    prefix: null,
    errorLog: null,
    globals: null,
    signal: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config" || arg.startsWith("--config=")) {
      f.config = arg === "--config" ? (argv[++i] ?? missing("c")) : arg.slice(9);
      continue;
    }
    if (!arg.startsWith("-") || arg.length < 2) throw new UsageError(`invalid option: "${arg}"`);
    for (let j = 1; j < arg.length; j++) {
      const ch = arg[j]!;
      const value = (): string => {
        const rest = arg.slice(j + 1);
        j = arg.length;
        if (rest !== "") return rest;
        const next = argv[++i];
        if (next === undefined) missing(ch);
        return next;
      };
      switch (ch) {
        case "?":
        case "h":
          f.help = true;
          break;
        case "v":
          f.version = true;
          break;
        case "V":
          f.version = true;
          f.versionVerbose = true;
          break;
        case "t":
          f.test = true;
          break;
        case "T":
          f.test = true;
          f.dump = true;
          break;
        case "q":
          f.quiet = true;
          break;
        case "c":
          f.config = value();
          break;
        case "p":
          f.prefix = value();
          break;
        case "e":
          f.errorLog = value();
          break;
        case "g":
          f.globals = value();
          break;
        case "s": {
          const s = value();
          if (s !== "reload" && s !== "reopen" && s !== "quit" && s !== "stop")
            throw new UsageError(`invalid option: "-s ${s}"`);
          f.signal = s;
          break;
        }
        default:
          throw new UsageError(`invalid option: "${arg.slice(j)}"`);
      }
    }
  }
  return f;
}

function missing(ch: string): never {
  const what: Readonly<Record<string, string>> = { c: "-c", p: "-p", e: "-e", g: "-g", s: "-s" };
  throw new UsageError(
    `option "${what[ch] ?? "-" + ch}" requires ${ch === "s" ? "signal name" : ch === "g" ? "parameter" : "file name"}`,
  );
}
