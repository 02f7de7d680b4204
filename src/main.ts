/**
 * Composition root: the only module that imports every layer. Parses the command line,
 * builds the frozen settings, and starts the server.
 */
import { NarwhalError, UsageError } from "./core/errors.js";
import { helpText, parseArgs } from "./config/cli.js";
import { VERSION } from "./version.js";
import {
  checkAppImports,
  formatConfig,
  resolveSettings,
  type ResolvedSettings,
} from "./config/resolve-settings.js";
import { compileAccessLogFormat } from "./http/access-log.js";
import type { Settings } from "./config/resolved.js";
import { serveWsgi } from "./serve-wsgi.js";
import { setFlagsFromString } from "node:v8";

/**
 * A server's objects live for one request, yet under load V8's allocation-site
 * pretenuring starts placing them in the old generation (survival looks high while a
 * scavenge cycle spans many requests in flight): each scavenge then promotes megabytes
 * and a mark-compact follows every few hundred ms. Off, the young generation takes them:
 * GC fell from ~7 to ~1 µs/request in the master (hello, 64 connections). Read by V8 at
 * each GC, so setting it at startup is enough (unlike the heap-size flags).
 */
export function tuneGc(): void {
  setFlagsFromString("--no-allocation-site-pretenuring");
}

export function main(argv: readonly string[]): void {
  tuneGc();
  try {
    const args = parseArgs(argv);
    if (args.command.nginx !== null) {
      // nginx mode (`-c site.conf`, -t, -s ...): the process ends with the server.
      // Loaded only in nginx mode: it pulls in the proxy and undici (~330 ms of startup
      // CPU, and memory, that WSGI mode never uses).
      const site = args.command.nginx;
      void import("./serve-site.js")
        .then(({ serveSite }) => serveSite(site))
        .then(
          (code) => process.exit(code),
          (err: unknown) => {
            process.stderr.write(
              `narwhal: [emerg] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
            );
            process.exit(1);
          },
        );
      return;
    }
    if (args.command.help) {
      process.stdout.write(helpText());
      return;
    }
    if (args.command.version) {
      process.stdout.write(`narwhal ${VERSION}\n`);
      return;
    }
    const resolved = resolveSettings(argv, process.env, process.cwd());
    for (const w of resolved.warnings) process.stderr.write(`narwhal: warning: ${w}\n`);
    const code = configCommand(resolved);
    if (code !== null) {
      process.exitCode = code;
      return;
    }
    if (resolved.appModule !== null) {
      // The process ends with the server: exit explicitly so no stray handle keeps it up.
      const cwd = process.cwd();
      // HUP re-reads the config file, the environment and the command line (as Gunicorn does).
      const reread = (): Settings => resolveSettings(argv, process.env, cwd).settings;
      void serveWsgi(resolved.settings, resolved.appModule, { reread }).then(
        (code) => process.exit(code),
        (err: unknown) => {
          process.stderr.write(
            `narwhal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
          );
          process.exit(1);
        },
      );
      return;
    }
    throw new UsageError("no application module given (usage: narwhal [OPTIONS] APP_MODULE)");
  } catch (err) {
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: ${err.message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
      return;
    }
    throw err;
  }
}

/**
 * `--print-config` prints every setting and exits 0; `--check-config` also compiles what
 * is compiled at startup and imports the app like Gunicorn's, then exits 0 or 1.
 */
function configCommand(r: ResolvedSettings): number | null {
  const s = r.settings;
  if (!s.bool("print_config") && !s.bool("check_config")) return null;
  if (s.bool("print_config")) process.stdout.write(formatConfig(r));
  compileAccessLogFormat(s.str("access_log_format")); // throws ConfigError
  if (!s.bool("check_config")) return 0;
  const err = checkAppImports(r, process.env);
  if (err !== null) {
    process.stderr.write(`narwhal: ${err}\n`);
    return 1;
  }
  return 0;
}
