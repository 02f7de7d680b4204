/** Reading a config from disk: parse, include, build, freeze. */
import { dirname, join, resolve } from "node:path";
import { repoRoot } from "../../core/paths.js";
import type { Directive, SourceFile } from "./ast.js";
import { Builder, COMMAND_LINE } from "./build.js";
import type { NginxConfig } from "./model.js";
import { parseConfigFile, parseText } from "./parser.js";

export interface LoadOptions {
  /** `-p`: relative paths (root, pid, logs) resolve against it. Default: the config file's directory. */
  readonly prefix?: string;
  /** `-g`: extra main-context directives, e.g. "pid /run/n.pid; worker_processes 2;". */
  readonly globalDirectives?: string;
  /** Receives every file read (for `-T`). */
  readonly sources?: SourceFile[];
}

/** The shipped nginx mime.types (conf/mime.types in the package). */
export function shippedMimeTypesPath(): string {
  return join(repoRoot(), "conf", "mime.types");
}

/**
 * The implicit http level of a bare site file, as Debian's nginx.conf surrounds
 * sites-enabled: `include mime.types; default_type application/octet-stream;`.
 */
let shippedTypes: Directive[] | null = null;

function bareDefaults(): Directive[] {
  const path = shippedMimeTypesPath();
  // The shipped file never changes while running: parse it once.
  const types = (shippedTypes ??= parseConfigFile(path, { includeBase: dirname(path) }));
  return [
    ...types,
    {
      name: "default_type",
      args: ["application/octet-stream"],
      quoted: [false],
      file: path,
      line: 0,
      block: null,
    },
  ];
}

/**
 * Load and validate an nginx-syntax config; throws ConfigError (`... in FILE:LINE`).
 *
 * @example
 *   const cfg = loadNginxConfig("/etc/narwhal/site.conf", {});
 *   cfg.servers[0].listen[0].port   // 8080
 */
export function loadNginxConfig(path: string, opts: LoadOptions = {}): NginxConfig {
  const file = resolve(path);
  const confDir = dirname(file);
  const prefix = opts.prefix !== undefined ? resolve(opts.prefix) : confDir;
  const sources = opts.sources ?? [];
  // nginx resolves include paths against the config file's directory (conf_prefix).
  const directives = parseConfigFile(file, { includeBase: confDir, sources });
  const globals = opts.globalDirectives
    ? parseText(opts.globalDirectives, COMMAND_LINE, { includeBase: confDir })
    : [];
  const needsBare = !directives.some((d) => d.name === "http");
  return new Builder({
    file,
    prefix,
    directives,
    globals,
    bareDefaults: needsBare ? bareDefaults() : [],
  }).build();
}
