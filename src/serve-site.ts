/**
 * `narwhal -c site.conf` (any config not ending in .py): nginx mode. The nginx command
 * line (-t -T -q -p -e -g -s -v -V) goes through runNginxCli; serving loads the config
 * (errors: `narwhal: [emerg] MESSAGE in FILE:LINE` on stderr, exit 1, like nginx),
 * writes the pid file, binds the listeners, and then one loop acts on signals:
 *
 *   TERM, INT   fast stop (nginx: "fast shutdown")      QUIT  graceful stop
 *   HUP         reload the config; a broken one is logged and the old one stays
 *   USR1        reopen the log files (logrotate)
 *
 * Signal handlers only enqueue; the loop does the work in order.
 */
import { unlinkSync, writeFileSync } from "node:fs";
import { ConfigError, NarwhalError } from "./core/errors.js";
import { LineSink, Logger } from "./core/log.js";
import type { NginxFlags } from "./config/nginx/args.js";
import { nginxConfigPath, nginxLoadOptions, runNginxCli } from "./config/nginx/cli.js";
import { loadNginxConfig, type NginxConfig } from "./config/nginx/index.js";
import { SiteServer } from "./site/index.js";
import { LEVELS } from "./site/error-log.js";
import type { AppResolver } from "./site/index.js";
import { Arbiter } from "./arbiter/arbiter.js";
import { workerSpec } from "./arbiter/command.js";
import { findPython } from "./arbiter/interpreter.js";
import { createWsgiHandler } from "./gateway/handler.js";
import type { Handler } from "./http/types.js";
import { VERSION } from "./version.js";

/**
 * One WSGI app served in this process for `app_pass NAME` (issue 6's one-process mode):
 * what the config's `app NAME { ... }` block must provide. The config model exposes them
 * as `NginxConfig.apps` when it declares the block; until then a site has none.
 */
export interface SiteAppSpec {
  readonly name: string;
  /** "package.module:callable" */
  readonly module: string;
  readonly workers: number;
  readonly threads: number;
  readonly chdir: string | null;
  readonly pythonpath: string | null;
  /** KEY=VALUE pairs for the workers' environment. */
  readonly rawEnv: readonly string[];
  /** Interpreter; null: the project's .venv, then python3 on PATH. */
  readonly python: string | null;
  /** Requests allowed to wait for a free thread. */
  readonly maxQueue: number;
  /** client_body_buffer_size for bodies handed to the app. */
  readonly bodyBufferSize: number;
}

/**
 * The config's `app` blocks as SiteAppSpecs: `NginxConfig.apps` as a list or a record
 * by name, with camelCase or directive (snake_case) field names; Gunicorn's defaults
 * for what a block leaves out (1 worker, 1 thread, max_queue 1024, 1 MiB body buffer).
 */
export function appSpecsOf(config: NginxConfig): SiteAppSpec[] {
  const raw = (config as unknown as { apps?: unknown }).apps;
  if (raw === undefined || raw === null || typeof raw !== "object") return [];
  const entries: [string | null, unknown][] = Array.isArray(raw)
    ? raw.map((v) => [null, v])
    : Object.entries(raw);
  return entries.map(([key, v]) => {
    const o = (v ?? {}) as Record<string, unknown>;
    const pick = (...names: string[]): unknown =>
      names.map((n) => o[n]).find((x) => x !== undefined && x !== null);
    const str = (...names: string[]): string | null => {
      const x = pick(...names);
      return typeof x === "string" ? x : null;
    };
    const num = (dflt: number, ...names: string[]): number => {
      const x = pick(...names);
      return typeof x === "number" ? x : dflt;
    };
    const env = pick("rawEnv", "raw_env", "env");
    return {
      name: str("name") ?? key ?? "",
      module: str("module", "wsgi_app", "app") ?? "",
      workers: num(1, "workers"),
      threads: num(1, "threads"),
      chdir: str("chdir"),
      pythonpath: str("pythonpath"),
      rawEnv: Array.isArray(env) ? env.filter((e): e is string => typeof e === "string") : [],
      python: str("python"),
      maxQueue: num(1024, "maxQueue", "max_queue"),
      bodyBufferSize: num(1048576, "bodyBufferSize", "client_body_buffer_size"),
    };
  });
}

export interface RunningApps {
  readonly resolve: AppResolver;
  stop(graceful: boolean, graceMs: number): Promise<void>;
}

/**
 * Boot every app's worker pool (all of them, or none: a boot failure stops the others
 * and throws) and map names to their gateway handlers.
 *
 * @example const apps = await startApps([{ name: "django", module: "site.wsgi:application", ... }], log);
 */
export async function startApps(
  specs: readonly SiteAppSpec[],
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  /** Where workers' stdout/stderr lines go, as they are (Gunicorn: the error log). */
  output: (line: string) => void = (line) => {
    log.info(line);
  },
): Promise<RunningApps> {
  const pools = new Map<string, { arbiter: Arbiter; handler: Handler }>();
  try {
    for (const a of specs) {
      const arbiter = new Arbiter({
        spec: workerSpec({
          python: findPython(a.python, env),
          app: a.module,
          threads: a.threads,
          chdir: a.chdir,
          pythonpath: a.pythonpath,
          rawEnv: [...a.rawEnv],
          baseEnv: env,
          name: a.name,
        }),
        workers: a.workers,
        maxQueue: a.maxQueue,
        log,
        output,
      });
      await arbiter.start();
      pools.set(a.name, {
        arbiter,
        handler: createWsgiHandler({ pool: arbiter, log, bodyBufferSize: a.bodyBufferSize }),
      });
    }
  } catch (err) {
    await Promise.all([...pools.values()].map((p) => p.arbiter.stop(false)));
    throw err;
  }
  return {
    resolve: (name) => pools.get(name)?.handler ?? null,
    async stop(graceful, graceMs) {
      await Promise.all([...pools.values()].map((p) => p.arbiter.stop(graceful, graceMs)));
    },
  };
}

export interface ServeSiteOptions {
  /** Install the signal handlers (default true). */
  readonly handleSignals?: boolean;
  readonly onReady?: (running: RunningSite) => void;
  /** app_pass NAME → handler (the WSGI gateway's); none yet by default. */
  readonly apps?: AppResolver;
}

export interface RunningSite {
  readonly server: SiteServer;
  signal(sig: "reload" | "reopen" | "quit" | "stop"): void;
}

type Command = "reload" | "reopen" | "quit" | "stop";

function errorLogger(
  flags: NginxFlags,
  config: NginxConfig | null,
): { log: Logger; sink: LineSink } {
  const first = config?.main.error_log[0] ?? { path: "stderr", level: "error" as const };
  const path = flags.errorLog ?? first.path;
  const sink = new LineSink(path === "stderr" ? "-" : path);
  return { log: new Logger(sink, LEVELS[first.level]), sink };
}

/** Serve until stopped; resolves with the exit status. */
export async function serveSite(flags: NginxFlags, opts: ServeSiteOptions = {}): Promise<number> {
  const cli = await runNginxCli(flags);
  if (cli !== "serve") return cli;
  const file = nginxConfigPath(flags);
  const load = (): NginxConfig => loadNginxConfig(file, nginxLoadOptions(flags));
  let config: NginxConfig;
  try {
    config = load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`narwhal: [emerg] ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let logs: { log: Logger; sink: LineSink };
  try {
    logs = errorLogger(flags, config);
  } catch (err) {
    process.stderr.write(
      `narwhal: [emerg] open() error log failed (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`,
    );
    return 1;
  }
  const log = logs.log;
  // One-process mode: the config's `app` blocks (when the model has them) boot here.
  let apps: RunningApps | null = null;
  const appSpecs = appSpecsOf(config);
  if (opts.apps === undefined && appSpecs.length > 0) {
    try {
      apps = await startApps(appSpecs, log, process.env, (line) => {
        logs.sink.write(line);
      });
    } catch (err) {
      process.stderr.write(
        `narwhal: [emerg] ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return 1;
    }
  }
  const resolver = opts.apps ?? apps?.resolve;
  let server: SiteServer;
  try {
    server = await SiteServer.start(config, log, resolver ? { apps: resolver } : {});
  } catch (err) {
    await apps?.stop(false, 0);
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: [emerg] ${err.message}\n`);
      return 1;
    }
    if (err instanceof Error && "code" in err) {
      process.stderr.write(`narwhal: [emerg] ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const pidFile = config.main.pid;
  if (pidFile !== null) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`);
    } catch (err) {
      process.stderr.write(
        `narwhal: [emerg] open() "${pidFile}" failed (${(err as NodeJS.ErrnoException).code ?? ""})\n`,
      );
      await server.stop(0);
      await apps?.stop(false, 0);
      return 1;
    }
  }
  log.info(`narwhal/${VERSION} serving ${file} (pid ${process.pid})`);

  const queue: Command[] = [];
  let wake: (() => void) | null = null;
  const push = (c: Command): void => {
    queue.push(c);
    wake?.();
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  if (opts.handleSignals ?? true) {
    const on = (sig: NodeJS.Signals, c: Command): void => {
      const h = (): void => {
        push(c);
      };
      process.on(sig, h);
      handlers.push([sig, h]);
    };
    on("SIGHUP", "reload");
    on("SIGUSR1", "reopen");
    on("SIGQUIT", "quit");
    on("SIGTERM", "stop");
    on("SIGINT", "stop");
  }
  opts.onReady?.({ server, signal: push });

  for (;;) {
    const c = queue.shift();
    if (c === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    if (c === "reload") {
      log.info("signal SIGHUP received, reconfiguring");
      try {
        await server.reload(load());
        log.info("reconfigured");
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        log.error(`[emerg] ${msg}; the old configuration stays in force`);
      }
      continue;
    }
    if (c === "reopen") {
      log.info("signal SIGUSR1 received, reopening logs");
      logs.sink.reopen();
      server.reopenLogs();
      continue;
    }
    log.info(c === "quit" ? "gracefully shutting down" : "exiting");
    await server.stop(c === "quit" ? 30_000 : 0);
    await apps?.stop(c === "quit", 30_000);
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    if (pidFile !== null) {
      try {
        unlinkSync(pidFile);
      } catch {
        // already gone
      }
    }
    logs.sink.close();
    return 0;
  }
}
