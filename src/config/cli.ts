/**
 * The command line, driven by the SETTINGS table: `narwhal [OPTIONS] [APP_MODULE]`.
 * Misuse throws UsageError (one line, exit 2).
 */
import { UsageError } from "../core/errors.js";
import { isNginxInvocation, parseNginxArgs, type NginxFlags } from "./nginx/args.js";
import type { SettingDecl, SettingValue } from "./setting-types.js";
import { SETTINGS } from "./settings.js";
import { convertValue } from "./values.js";

/** Flags that act on the command itself rather than set a server setting. */
export interface CommandFlags {
  help: boolean;
  version: boolean;
  /** -c/--config FILE: a Gunicorn .py file or an nginx-syntax config. */
  config: string | null;
  /**
   * nginx mode (`-c FILE` not ending in .py, or -s/-T/-V/-q): nginx's own flags
   * -t -T -q -p -e -g -s -v -V, parsed with nginx's grammar; run with runNginxCli().
   */
  nginx: NginxFlags | null;
}

export interface ParsedArgs {
  command: CommandFlags;
  /** Settings named on the command line, in the table's value types. */
  settings: Map<string, SettingValue>;
  /** APP_MODULE and anything after it. */
  positional: string[];
}

const FLAG_INDEX = new Map<string, SettingDecl>();
for (const s of SETTINGS) for (const f of s.flags) FLAG_INDEX.set(f, s);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  if (isNginxInvocation(argv)) {
    const nginx = parseNginxArgs(argv);
    return {
      command: { help: false, version: false, config: nginx.config, nginx },
      settings: new Map(),
      positional: [],
    };
  }
  const out: ParsedArgs = {
    command: { help: false, version: false, config: null, nginx: null },
    settings: new Map(),
    positional: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      out.positional.push(arg);
      continue;
    }
    let flag = arg;
    let inline: string | null = null;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      flag = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      flag = arg.slice(0, 2); // -w4
      inline = arg.slice(2);
    }
    const takeValue = (): string => {
      if (inline !== null) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option ${flag} requires a value`);
      i++;
      return next;
    };
    if (flag === "-h" || flag === "--help") {
      out.command.help = true;
      continue;
    }
    if (flag === "-v" || flag === "--version") {
      out.command.version = true;
      continue;
    }
    if (flag === "-c" || flag === "--config") {
      out.command.config = takeValue();
      continue;
    }
    const decl = FLAG_INDEX.get(flag);
    if (!decl) throw new UsageError(`unrecognized option ${flag} (see narwhal --help)`);
    if (decl.kind === "bool") {
      if (inline !== null) {
        const v = convertValue(decl, inline);
        if (typeof v === "object" && v !== null && "error" in v) throw new UsageError(v.error);
        out.settings.set(decl.name, v);
      } else out.settings.set(decl.name, true);
      continue;
    }
    const v = convertValue(decl, takeValue());
    if (typeof v === "object" && v !== null && "error" in v) throw new UsageError(v.error);
    if (decl.kind === "list") {
      const prev = (out.settings.get(decl.name) as readonly string[] | undefined) ?? [];
      out.settings.set(decl.name, [...prev, ...(v as readonly string[])]);
    } else out.settings.set(decl.name, v);
  }
  return out;
}

/** `--help` text, generated from the table. */
export function helpText(): string {
  const lines = [
    "usage: narwhal [OPTIONS] [APP_MODULE]",
    "",
    "Serve a Python WSGI application (APP_MODULE is module:callable), Gunicorn style.",
    "",
    "  -h, --help             show this help and exit",
    "  -v, --version          show the version and exit",
    "  -c, --config FILE      a Gunicorn config file (.py) or an nginx-syntax config",
  ];
  let section = "";
  for (const s of SETTINGS) {
    if (s.section !== section) {
      section = s.section;
      lines.push("", `${section}:`);
    }
    if (s.flags.length === 0) continue; // config-file-only settings (wsgi_app)
    const flags = [...s.flags].reverse().join(", ");
    const left = s.kind === "bool" ? flags : `${flags} ${s.meta ?? "VALUE"}`;
    const def =
      s.default === null || (Array.isArray(s.default) && s.default.length === 0)
        ? ""
        : ` [${String(s.default)}]`;
    lines.push(`  ${left.padEnd(40)} ${firstSentence(s.doc)}${def}`);
  }
  return lines.join("\n") + "\n";
}

function firstSentence(doc: string): string {
  const i = doc.indexOf(". ");
  return (i < 0 ? doc : doc.slice(0, i + 1)).replace(/`/g, "");
}
