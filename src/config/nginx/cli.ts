/**
 * nginx-mode command line actions, for the composition root to call:
 *
 *   const code = await runNginxCli(flags);   // number → exit with it; "serve" → start serving
 *
 * -t/-T test (and dump) the config, -s signals the running server through its pid file,
 * -v/-V print the version, -h the usage. Messages follow nginx's, with "narwhal:" in front.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import { VERSION } from "../../version.js";
import type { SourceFile } from "./ast.js";
import type { NginxFlags, NginxSignal } from "./args.js";
import { loadNginxConfig, type LoadOptions } from "./load.js";
import type { NginxConfig } from "./model.js";

export const SIGNALS: Readonly<Record<NginxSignal, NodeJS.Signals>> = {
  reload: "SIGHUP",
  reopen: "SIGUSR1",
  quit: "SIGQUIT",
  stop: "SIGTERM",
};

/** Where output goes; tests capture it. nginx writes its messages to stderr, -T's dump to stdout. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/** The config file in nginx mode: -c, else PREFIX/conf/nginx.conf (nginx's layout). */
export function nginxConfigPath(flags: NginxFlags): string {
  return resolve(flags.prefix ?? ".", flags.config ?? "conf/nginx.conf");
}

/** Options for loadNginxConfig from the flags (-p, -g). */
export function nginxLoadOptions(flags: NginxFlags, sources?: SourceFile[]): LoadOptions {
  return {
    ...(flags.prefix !== null ? { prefix: flags.prefix } : {}),
    ...(flags.globals !== null ? { globalDirectives: flags.globals } : {}),
    ...(sources ? { sources } : {}),
  };
}

export function nginxUsage(): string {
  return [
    `narwhal version: narwhal/${VERSION}`,
    "Usage: narwhal [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename] [-g directives]",
    "",
    "Options:",
    "  -?,-h         : this help",
    "  -v            : show version and exit",
    "  -V            : show version and build details and exit",
    "  -t            : test configuration and exit",
    "  -T            : test configuration, dump it and exit",
    "  -q            : suppress non-error messages during configuration testing",
    "  -s signal     : send signal to the server: stop, quit, reopen, reload",
    "  -p prefix     : set prefix path (default: the config file's directory)",
    "  -e filename   : set error log file (default: stderr)",
    "  -c filename   : set configuration file (default: conf/nginx.conf)",
    "  -g directives : set global directives out of configuration file",
    "",
  ].join("\n");
}

/**
 * Run the nginx-mode command; returns the exit status, or "serve" when the caller should
 * load the config (nginxConfigPath + nginxLoadOptions) and start the server.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- async for the caller's contract (serving may await later)
export async function runNginxCli(
  flags: NginxFlags,
  io: CliIo = processIo,
): Promise<number | "serve"> {
  if (flags.help) {
    io.stderr(nginxUsage());
    return 0;
  }
  if (flags.version) {
    io.stderr(`narwhal version: narwhal/${VERSION}\n`);
    if (flags.versionVerbose) {
      io.stderr(`built with Node.js ${process.version} (${process.platform}-${process.arch})\n`);
      io.stderr(
        "configuration: nginx syntax (docs/config.md), Gunicorn settings (docs/settings.md)\n",
      );
    }
    return 0;
  }
  const file = nginxConfigPath(flags);
  if (flags.test) return testConfig(file, flags, io);
  if (flags.signal !== null) return sendSignal(file, flags, flags.signal, io);
  return "serve";
}

function load(
  file: string,
  flags: NginxFlags,
  io: CliIo,
  sources?: SourceFile[],
): NginxConfig | null {
  try {
    return loadNginxConfig(file, nginxLoadOptions(flags, sources));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`narwhal: [emerg] ${err.message}\n`);
    return null;
  }
}

function testConfig(file: string, flags: NginxFlags, io: CliIo): number {
  const sources: SourceFile[] = [];
  const cfg = load(file, flags, io, sources);
  if (cfg === null) {
    io.stderr(`narwhal: configuration file ${file} test failed\n`);
    return 1;
  }
  if (!flags.quiet) {
    io.stderr(`narwhal: the configuration file ${file} syntax is ok\n`);
    io.stderr(`narwhal: configuration file ${file} test is successful\n`);
  }
  if (flags.dump) {
    for (const s of sources)
      io.stdout(`# configuration file ${s.path}:\n${s.text}${s.text.endsWith("\n") ? "" : "\n"}\n`);
  }
  return 0;
}

/** `-s`: read the pid file the config names and signal that process (ngx_signal_process). */
function sendSignal(file: string, flags: NginxFlags, signal: NginxSignal, io: CliIo): number {
  const cfg = load(file, flags, io);
  if (cfg === null) return 1;
  const pidFile = cfg.main.pid;
  if (pidFile === null) {
    io.stderr(`narwhal: [error] no "pid" directive in ${file}: cannot find the server to signal\n`);
    return 1;
  }
  let text: string;
  try {
    text = readFileSync(pidFile, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(
      `narwhal: [error] open() "${pidFile}" failed (${e.code === "ENOENT" ? "2: No such file or directory" : String(e.code)})\n`,
    );
    return 1;
  }
  const pid = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || pid <= 0) {
    io.stderr(`narwhal: [error] invalid PID number "${text.trim()}" in "${pidFile}"\n`);
    return 1;
  }
  try {
    process.kill(pid, SIGNALS[signal]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(
      `narwhal: [alert] kill(${pid}, ${SIGNALS[signal]}) failed (${e.code === "ESRCH" ? "3: No such process" : String(e.code)})\n`,
    );
    return 1;
  }
  return 0;
}
