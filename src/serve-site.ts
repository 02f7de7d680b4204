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
 *
 * One-process mode: the config's `app NAME { ... }` blocks boot their Python worker pools
 * here (startApps) before the listeners open; `app_pass NAME` reaches them by name. HUP
 * reloads them as the WSGI mode's HUP does (the arbiter's generation reload: fresh
 * workers with the new code and settings, then the old ones drain); QUIT lets their
 * requests finish within each app's `graceful_timeout`.
 */
import { unlinkSync, writeFileSync } from "node:fs";
import { ConfigError, NarwhalError } from "./core/errors.js";
import { LineSink, Logger } from "./core/log.js";
import type { NginxFlags } from "./config/nginx/args.js";
import { nginxConfigPath, nginxLoadOptions, runNginxCli } from "./config/nginx/cli.js";
import { loadNginxConfig, type NginxConfig } from "./config/nginx/index.js";
import { SiteServer } from "./site/index.js";
import { LEVELS } from "./site/error-log.js";
import { withForwardedScheme } from "./site/forwarded-scheme.js";
import type { AppResolver } from "./site/index.js";
import { Arbiter } from "./arbiter/arbiter.js";
import { watchPython } from "./arbiter/code-watch.js";
import { workerSpec } from "./arbiter/command.js";
import { resolveGroup, resolveUser } from "./arbiter/identity.js";
import { findPython } from "./arbiter/interpreter.js";
import { EventLoopPolicy, wantsBatch } from "./arbiter/sched.js";
import type { WorkerSpec } from "./arbiter/worker.js";
import { createWsgiHandler } from "./gateway/handler.js";
import type { Handler } from "./http/types.js";
import { VERSION } from "./version.js";

/**
 * One WSGI app served in this process for `app_pass NAME` (issue 6's one-process mode),
 * from the config's `app NAME { ... }` block (NginxConfig.apps).
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
  /** The supervision settings (Gunicorn's); absent = the settings table's defaults. */
  readonly bodyTempDir?: string | null;
  readonly timeoutMs?: number;
  readonly gracefulTimeoutMs?: number;
  readonly maxRequests?: number;
  readonly maxRequestsJitter?: number;
  readonly preload?: boolean;
  readonly procName?: string | null;
  readonly user?: string | null;
  readonly group?: string | null;
  /** Development: reload the app's workers when a .py file under chdir changes. */
  readonly reload?: boolean;
  /** Fronts trusted to set X-Forwarded-Proto (Gunicorn's default: loopback). */
  readonly forwardedAllowIps?: string;
}

/** The config's `app` blocks as SiteAppSpecs, in config order. */
export function appSpecsOf(config: NginxConfig): SiteAppSpec[] {
  return Object.values(config.apps).map((a) => {
    const s = a.settings;
    return {
      name: a.name,
      module: a.module,
      workers: s.num("workers"),
      threads: s.num("threads"),
      chdir: s.strOrNull("chdir"),
      pythonpath: s.strOrNull("pythonpath"),
      rawEnv: s.list("raw_env"),
      python: s.strOrNull("python"),
      maxQueue: s.num("max_queue"),
      bodyBufferSize: s.num("client_body_buffer_size"),
      bodyTempDir: s.strOrNull("client_body_temp_path"),
      timeoutMs: s.num("timeout") * 1000,
      gracefulTimeoutMs: s.num("graceful_timeout") * 1000,
      maxRequests: s.num("max_requests"),
      maxRequestsJitter: s.num("max_requests_jitter"),
      preload: s.bool("preload_app"),
      procName: s.strOrNull("proc_name"),
      user: s.strOrNull("user"),
      group: s.strOrNull("group"),
      reload: s.bool("reload"),
      forwardedAllowIps: s.str("forwarded_allow_ips"),
    };
  });
}

export interface RunningApps {
  readonly resolve: AppResolver;
  /**
   * HUP: boot what the new specs need (new apps, and apps whose pool options changed)
   * without touching the running ones; throws (and leaves everything as it was) when one
   * cannot boot. `commit()` then reloads the other apps' code (the arbiter's generation
   * reload, as the WSGI mode's HUP) and retires the removed and replaced pools;
   * `abort()` stops what was booted.
   */
  prepare(specs: readonly SiteAppSpec[]): Promise<{ commit(): void; abort(): Promise<void> }>;
  /** Stop every pool; graceful: within each app's graceful_timeout (else `graceMs`). */
  stop(graceful: boolean, graceMs: number): Promise<void>;
}

interface Pool {
  readonly spec: SiteAppSpec;
  readonly arbiter: Arbiter;
  handler: Handler;
  stopWatch: (() => void) | null;
}

interface Identity {
  readonly uid: number;
  readonly gid: number;
}

function identityOf(a: SiteAppSpec): Identity | null {
  const user = a.user ?? null;
  const group = a.group ?? null;
  if (user === null && group === null) return null;
  const u = user !== null ? resolveUser(user) : { uid: process.getuid?.() ?? 0, gid: null };
  const gid = group !== null ? resolveGroup(group) : (u.gid ?? process.getgid?.() ?? 0);
  return { uid: u.uid, gid };
}

function specOf(a: SiteAppSpec, env: NodeJS.ProcessEnv, schedOther: boolean): WorkerSpec {
  const spec = workerSpec({
    python: findPython(a.python, env),
    app: a.module,
    threads: a.threads,
    chdir: a.chdir,
    pythonpath: a.pythonpath,
    rawEnv: [...a.rawEnv],
    baseEnv: env,
    name: a.procName ?? a.name,
    schedOther,
  });
  const id = identityOf(a);
  return id === null ? spec : { ...spec, uid: id.uid, gid: id.gid };
}

/** SCHED_BATCH for the event loop, set by the first app's interpreter (or python3 on PATH). */
function batchSiteLoop(
  apps: readonly SiteAppSpec[],
  log: Logger,
  adaptive: boolean,
): EventLoopPolicy | null {
  let python: string;
  try {
    python = findPython(apps[0]?.python ?? null);
  } catch (err) {
    log.warning(
      `event_loop_sched: no Python to set the scheduling policy with: ${err instanceof Error ? err.message : String(err)}; running with the default policy`,
    );
    return null;
  }
  return EventLoopPolicy.start(python, log, adaptive);
}

/** The options fixed for a pool's life; when they change a HUP starts a fresh pool. */
function poolOptions(a: SiteAppSpec): string {
  return JSON.stringify([
    a.maxQueue,
    a.timeoutMs ?? 0,
    a.gracefulTimeoutMs ?? 30_000,
    a.maxRequests ?? 0,
    a.maxRequestsJitter ?? 0,
    a.preload ?? false,
    a.reload ?? false,
  ]);
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
  /** The master runs under SCHED_BATCH: workers switch back (arbiter/sched.ts). */
  schedOther = false,
): Promise<RunningApps> {
  const pools = new Map<string, Pool>();
  const handlerOf = (a: SiteAppSpec, arbiter: Arbiter): Handler =>
    withForwardedScheme(
      createWsgiHandler({
        pool: arbiter,
        log,
        bodyBufferSize: a.bodyBufferSize,
        bodyTempDir: a.bodyTempDir ?? null,
        bodyOwner: identityOf(a),
      }),
      a.forwardedAllowIps ?? "127.0.0.1,::1",
    );
  const boot = async (a: SiteAppSpec): Promise<Pool> => {
    const timeoutMs = a.timeoutMs ?? 0;
    const arbiter = new Arbiter({
      spec: specOf(a, env, schedOther),
      workers: a.workers,
      maxQueue: a.maxQueue,
      log,
      output,
      timeoutMs,
      // As the WSGI mode: a worker silent for this long (not even its reader thread) is replaced.
      heartbeatTimeoutMs: timeoutMs > 0 ? Math.max(timeoutMs, 5000) : 24 * 3600 * 1000,
      ...(a.gracefulTimeoutMs !== undefined ? { gracefulTimeoutMs: a.gracefulTimeoutMs } : {}),
      ...(a.maxRequests !== undefined ? { maxRequests: a.maxRequests } : {}),
      ...(a.maxRequestsJitter !== undefined ? { maxRequestsJitter: a.maxRequestsJitter } : {}),
      ...(a.preload !== undefined ? { preload: a.preload } : {}),
    });
    arbiter.onFatal = (err) => {
      log.error(`app "${a.name}": ${err.message}; its requests are answered 503`);
    };
    await arbiter.start();
    const pool: Pool = { spec: a, arbiter, handler: handlerOf(a, arbiter), stopWatch: null };
    if (a.reload === true) {
      pool.stopWatch = watchPython([a.chdir ?? process.cwd()], (path) => {
        log.info(`app "${a.name}": ${path} changed, reloading its workers`);
        arbiter.reload();
      });
    }
    return pool;
  };
  const retire = async (p: Pool, graceful: boolean, graceMs: number): Promise<void> => {
    p.stopWatch?.();
    await p.arbiter.stop(graceful, graceMs);
  };
  const bootAll = async (list: readonly SiteAppSpec[]): Promise<Pool[]> => {
    const booted: Pool[] = [];
    try {
      for (const a of list) booted.push(await boot(a));
    } catch (err) {
      await Promise.all(booted.map((p) => retire(p, false, 0)));
      throw err;
    }
    return booted;
  };
  for (const p of await bootAll(specs)) pools.set(p.spec.name, p);
  return {
    resolve: (name) => pools.get(name)?.handler ?? null,
    async prepare(next) {
      const fresh = await bootAll(
        next.filter((a) => {
          const cur = pools.get(a.name);
          return cur === undefined || poolOptions(cur.spec) !== poolOptions(a);
        }),
      );
      return {
        commit() {
          const names = new Set(next.map((a) => a.name));
          const old: Pool[] = [];
          for (const [name, p] of pools)
            if (!names.has(name) || fresh.some((f) => f.spec.name === name)) old.push(p);
          for (const p of old) pools.delete(p.spec.name);
          for (const f of fresh) pools.set(f.spec.name, f);
          for (const a of next) {
            const p = pools.get(a.name);
            if (p === undefined || fresh.includes(p)) continue;
            // Fresh code and settings, new workers before the old ones go (Gunicorn's HUP).
            p.arbiter.reload({ spec: specOf(a, env, schedOther), workers: a.workers });
            pools.set(a.name, { ...p, spec: a, handler: handlerOf(a, p.arbiter) });
          }
          for (const p of old) void retire(p, true, p.spec.gracefulTimeoutMs ?? 30_000);
        },
        async abort() {
          await Promise.all(fresh.map((p) => retire(p, false, 0)));
        },
      };
    },
    async stop(graceful, graceMs) {
      await Promise.all(
        [...pools.values()].map((p) => retire(p, graceful, p.spec.gracefulTimeoutMs ?? graceMs)),
      );
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
  // One-process mode: the config's `app` blocks boot here (none: nothing runs, but a
  // reload may add some).
  let apps: RunningApps | null = null;
  const appSpecs = appSpecsOf(config);
  // Read at startup only: the policy is the master's, for its whole life.
  const batch =
    opts.apps === undefined && wantsBatch(config.main.event_loop_sched, appSpecs.length > 0);
  const loopPolicy = batch
    ? batchSiteLoop(appSpecs, log, config.main.event_loop_sched === "auto")
    : null;
  if (opts.apps === undefined) {
    try {
      apps = await startApps(
        appSpecs,
        log,
        process.env,
        (line) => {
          logs.sink.write(line);
        },
        batch,
      );
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
        const next = load();
        // The apps first (boot what is new; nothing changes if one cannot boot), then the
        // site; the apps' code reloads once the new site is in force.
        const plan = apps !== null ? await apps.prepare(appSpecsOf(next)) : null;
        try {
          await server.reload(next);
        } catch (err) {
          await plan?.abort();
          throw err;
        }
        plan?.commit();
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
    loopPolicy?.stop();
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
