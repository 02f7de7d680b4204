/**
 * `narwhal APP_MODULE [flags]`: boot the Python worker pool, then serve HTTP on the binds
 * with the WSGI gateway as the handler, until a signal stops it.
 *
 * Signal handlers only enqueue; one loop (the end of serveWsgi) acts on them in order,
 * with Gunicorn's meanings (docs/operations.md, "Signals"): HUP reload (fresh workers,
 * then the old ones drain), TERM graceful stop, INT/QUIT quick stop, TTIN/TTOU one worker
 * more/less, USR1 reopen the logs. USR2/WINCH (binary upgrade) are logged and ignored.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { Arbiter, WorkerBootError } from "./arbiter/arbiter.js";
import { watchPython } from "./arbiter/code-watch.js";
import { workerSpec } from "./arbiter/command.js";
import { parseUmask, resolveGroup, resolveUser } from "./arbiter/identity.js";
import { findPython } from "./arbiter/interpreter.js";
import { EventLoopPolicy, wantsBatch } from "./arbiter/sched.js";
import type { WorkerSpec } from "./arbiter/worker.js";
import { NarwhalError } from "./core/errors.js";
import { LineSink, Logger, isLogLevel } from "./core/log.js";
import type { Settings } from "./config/resolved.js";
import type { EventLoopSched } from "./config/setting-types.js";
import { createWsgiHandler } from "./gateway/handler.js";
import type { GatewayRecord } from "./gateway/exchange.js";
import { openAccessLog, type AccessLog } from "./http/access-log.js";
import { HttpServer } from "./http/server.js";
import type { Handler, IncomingRequest, ResponseWriter } from "./http/types.js";
import { VERSION } from "./version.js";

export interface ServeWsgiOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Install the signal handlers (default true; tests may drive stop() instead). */
  readonly handleSignals?: boolean;
  /** Called once listening, with the running server (tests, embedding). */
  readonly onReady?: (running: RunningWsgi) => void;
  /**
   * Re-read the settings (config file, environment, command line) for a reload, as
   * Gunicorn re-reads its config on HUP. Default: reuse the startup settings.
   */
  readonly reread?: () => Settings;
}

export interface RunningWsgi {
  readonly server: HttpServer;
  readonly arbiter: Arbiter;
  /** Ask for a stop; the supervise loop carries it out. */
  stop(graceful: boolean): void;
  /** Ask for a reload (HUP). */
  reload(): void;
}

type Command =
  | { kind: "stop"; graceful: boolean; why: string }
  | { kind: "fatal"; code: number; why: string }
  | { kind: "reload"; why: string }
  | { kind: "resize"; delta: number; why: string }
  | { kind: "reopen" }
  | { kind: "unsupported"; why: string };

interface Identity {
  readonly uid: number;
  readonly gid: number;
}

/** --user/--group → the workers' uid/gid (null when both are unset). */
function identityFrom(settings: Settings): Identity | null {
  const user = settings.strOrNull("user");
  const group = settings.strOrNull("group");
  if (user === null && group === null) return null;
  const u = user !== null ? resolveUser(user) : { uid: process.getuid?.() ?? 0, gid: null };
  const gid = group !== null ? resolveGroup(group) : (u.gid ?? process.getgid?.() ?? 0);
  return { uid: u.uid, gid };
}

function specFrom(
  settings: Settings,
  python: string,
  appModule: string,
  env: NodeJS.ProcessEnv,
  id: Identity | null,
  schedOther: boolean,
): WorkerSpec {
  const spec = workerSpec({
    python,
    app: appModule,
    threads: settings.num("threads"),
    chdir: settings.strOrNull("chdir"),
    pythonpath: settings.strOrNull("pythonpath"),
    rawEnv: settings.list("raw_env"),
    name: settings.strOrNull("proc_name"),
    baseEnv: env,
    schedOther,
  });
  return id === null ? spec : { ...spec, uid: id.uid, gid: id.gid };
}

/** This mode always runs an app pool, so `auto` means SCHED_BATCH (arbiter/sched.ts). */
function batchWanted(settings: Settings): boolean {
  return wantsBatch(settings.str("event_loop_sched") as EventLoopSched, true);
}

/**
 * Gunicorn's pidfile: refuse to start when it names a live process, write ours, remove
 * it at exit only if it still holds our pid.
 */
function createPidfile(path: string): () => void {
  if (existsSync(path)) {
    const old = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(old) && old > 0 && old !== process.pid) {
      let alive = true;
      try {
        process.kill(old, 0);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM";
      }
      if (alive)
        throw new NarwhalError(
          "CONFIG",
          `already running on PID ${old} (or pid file ${path} is stale)`,
          null,
        );
    }
  }
  writeFileSync(path, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

/**
 * Serve until stopped; resolves with the process exit code (0 after a clean stop; the
 * worker's exit code 3/4 when the app cannot be loaded; 1 for other startup failures).
 */
export async function serveWsgi(
  settings: Settings,
  appModule: string,
  opts: ServeWsgiOptions = {},
): Promise<number> {
  const env = opts.env ?? process.env;
  const errorSink = new LineSink(settings.str("errorlog"));
  const level = settings.str("loglevel");
  const log = new Logger(errorSink, isLogLevel(level) ? level : "info");

  let python: string;
  let accessLog: AccessLog | null;
  let identity: Identity | null;
  try {
    // The umask first: it applies to every file narwhal creates (logs, pid file, unix sockets).
    process.umask(parseUmask(settings.str("umask")));
    identity = identityFrom(settings);
    python = findPython(settings.strOrNull("python"), env);
    accessLog = openAccessLog(
      { path: settings.strOrNull("accesslog"), format: settings.str("access_log_format") },
      (m) => {
        log.error(m);
      },
    );
  } catch (err) {
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const procName = settings.strOrNull("proc_name") ?? appModule;
  try {
    process.title = `narwhal: master [${procName}]`;
  } catch {
    // Not settable on this platform: cosmetic only.
  }
  log.info(`Starting narwhal ${VERSION}`);
  log.info(`Using worker: python (${python}), ${settings.num("threads")} thread(s) each`);
  // Read at startup only: the policy is the master's, for its whole life.
  const batch = batchWanted(settings);
  const loopPolicy = batch
    ? EventLoopPolicy.start(python, log, settings.str("event_loop_sched") === "auto")
    : null;

  const timeoutMs = settings.num("timeout") * 1000;
  const grace = settings.num("graceful_timeout") * 1000;
  const arbiter = new Arbiter({
    spec: specFrom(settings, python, appModule, env, identity, batch),
    workers: settings.num("workers"),
    maxQueue: settings.num("max_queue"),
    log,
    // Worker stdout/stderr go to the error log as they are, like Gunicorn's.
    output: (line) => {
      errorSink.write(line);
    },
    timeoutMs,
    // A worker that stops answering PINGs altogether (not even its reader thread).
    heartbeatTimeoutMs: timeoutMs > 0 ? Math.max(timeoutMs, 5000) : 24 * 3600 * 1000,
    gracefulTimeoutMs: grace,
    preload: settings.bool("preload_app"),
    maxRequests: settings.num("max_requests"),
    maxRequestsJitter: settings.num("max_requests_jitter"),
  });

  // ---- the one loop: handlers below only push commands
  const commands: Command[] = [];
  let wake: (() => void) | null = null;
  const push = (c: Command): void => {
    commands.push(c);
    wake?.();
  };
  arbiter.onFatal = (err) => {
    push({ kind: "fatal", code: err.exitCode, why: err.message });
  };

  const signals: Array<[NodeJS.Signals, () => void]> = [];
  const on = (sig: NodeJS.Signals, c: Command): void => {
    const h = (): void => {
      push(c);
    };
    process.on(sig, h);
    signals.push([sig, h]);
  };
  if (opts.handleSignals ?? true) {
    on("SIGTERM", { kind: "stop", graceful: true, why: "SIGTERM" });
    on("SIGINT", { kind: "stop", graceful: false, why: "SIGINT" });
    on("SIGQUIT", { kind: "stop", graceful: false, why: "SIGQUIT" });
    on("SIGHUP", { kind: "reload", why: "SIGHUP" });
    on("SIGTTIN", { kind: "resize", delta: 1, why: "SIGTTIN" });
    on("SIGTTOU", { kind: "resize", delta: -1, why: "SIGTTOU" });
    on("SIGUSR1", { kind: "reopen" });
    // Gunicorn's binary upgrade; does not fit narwhal (docs/operations.md). Handled so
    // that USR2's default action (terminate) cannot take the server down by mistake.
    on("SIGUSR2", { kind: "unsupported", why: "SIGUSR2" });
    on("SIGWINCH", { kind: "unsupported", why: "SIGWINCH" });
  }
  let removePidfile: (() => void) | null = null;
  let stopWatch: (() => void) | null = null;
  const cleanup = (): void => {
    loopPolicy?.stop();
    for (const [sig, h] of signals) process.removeListener(sig, h);
    stopWatch?.();
    accessLog?.close();
    removePidfile?.();
  };

  try {
    const pidfile = settings.strOrNull("pidfile");
    if (pidfile !== null) removePidfile = createPidfile(pidfile);
  } catch (err) {
    cleanup();
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  try {
    await arbiter.start();
  } catch (err) {
    cleanup();
    if (err instanceof WorkerBootError) {
      // The worker printed the traceback on its stderr, i.e. into the error log; repeat it
      // on stderr when the error log is a file, so the terminal shows why.
      if (settings.str("errorlog") !== "-" && err.traceback !== "")
        process.stderr.write(err.traceback.trimEnd() + "\n");
      process.stderr.write(`narwhal: cannot load ${appModule}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }

  let stopping = false;
  const wsgi = createWsgiHandler({
    pool: arbiter,
    log,
    bodyBufferSize: settings.num("client_body_buffer_size"),
    bodyTempDir: settings.strOrNull("client_body_temp_path"),
    bodyOwner: identity,
    ...(accessLog !== null ? { onDone: accessLogger(accessLog) } : {}),
  });
  const handler = withProbes(
    wsgi,
    settings,
    () => !stopping && arbiter.running && arbiter.readyCount > 0,
  );
  const server = new HttpServer({ handler, logger: log, settings });
  let binds = settings.list("bind");
  if (binds.length === 0) binds = env["PORT"] ? [`0.0.0.0:${env["PORT"]}`] : ["127.0.0.1:8000"];
  try {
    await server.listen(binds);
  } catch (err) {
    await server.close().catch(() => undefined);
    await arbiter.stop(false);
    cleanup();
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  if (settings.bool("reload")) {
    const dirs = [settings.strOrNull("chdir") ?? process.cwd()];
    log.info(`--reload: watching .py files under ${dirs.join(", ")}`);
    stopWatch = watchPython(dirs, (path) => {
      push({ kind: "reload", why: `${path} changed` });
    });
  }

  opts.onReady?.({
    server,
    arbiter,
    stop: (graceful) => {
      push({ kind: "stop", graceful, why: "stop()" });
    },
    reload: () => {
      push({ kind: "reload", why: "reload()" });
    },
  });

  for (;;) {
    const c = commands.shift();
    if (c === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    switch (c.kind) {
      case "reload": {
        log.info(
          c.why.startsWith("SIG") ? `Handling signal: ${signalName(c.why)}` : `Reload: ${c.why}`,
        );
        let next = settings;
        if (opts.reread) {
          try {
            next = opts.reread();
          } catch (err) {
            log.error(
              `Reload: cannot re-read the configuration, keeping the current one: ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
        let spec: WorkerSpec;
        try {
          spec = specFrom(
            next,
            findPython(next.strOrNull("python"), env),
            appModule,
            env,
            identity,
            batch,
          );
        } catch (err) {
          log.error(
            `Reload: ${err instanceof Error ? err.message : String(err)}; keeping the current workers`,
          );
          continue;
        }
        arbiter.reload({ spec, workers: next.num("workers") });
        continue;
      }
      case "resize":
        log.info(`Handling signal: ${signalName(c.why)}`);
        arbiter.resize(c.delta);
        continue;
      case "reopen":
        log.info("Handling signal: usr1");
        errorSink.reopen();
        accessLog?.reopen();
        log.info("Reopened the log files");
        continue;
      case "unsupported":
        log.warning(
          `Handling signal: ${signalName(c.why)}: the binary upgrade (USR2/WINCH) is not supported; ignored (docs/operations.md: use HUP, or a second instance)`,
        );
        continue;
      case "stop":
        log.info(`Handling signal: ${signalName(c.why)}`);
        stopping = true;
        stopWatch?.();
        if (c.graceful) {
          // Stop accepting and let the requests in flight finish (the pool still serves
          // them, and whatever arrives on a connection before it closes); then the workers.
          const t0 = performance.now();
          await server.drain(grace);
          await arbiter.stop(true, Math.max(1000, grace - (performance.now() - t0)));
        } else {
          await Promise.all([server.drain(0), arbiter.stop(false)]);
        }
        log.info("Shutting down: Master");
        cleanup();
        return 0;
      case "fatal":
        // A replacement worker could not load the app (Gunicorn halts too).
        log.error(`Shutting down: ${c.why}`);
        stopping = true;
        await server.drain(0);
        cleanup();
        return c.code;
    }
  }
}

function signalName(why: string): string {
  return why.startsWith("SIG") ? why.slice(3).toLowerCase() : why;
}

/**
 * Liveness and readiness answered by Node itself, never by a worker, so a busy pool
 * cannot make a probe time out: --health-path is 200 while the process serves,
 * --ready-path 200 only while workers are ready and the server is not stopping.
 */
function withProbes(inner: Handler, settings: Settings, ready: () => boolean): Handler {
  const health = settings.strOrNull("health_path");
  const readiness = settings.strOrNull("ready_path");
  if (health === null && readiness === null) return inner;
  const answer = (res: ResponseWriter, status: number, text: string): void => {
    res.writeHead(status, [
      ["Content-Type", "text/plain"],
      ["Content-Length", String(text.length)],
      ["Cache-Control", "no-store"],
    ]);
    res.end(text);
  };
  return (req, res) => {
    if (req.path === health) {
      answer(res, 200, "ok\n");
      return;
    }
    if (req.path === readiness) {
      if (ready()) answer(res, 200, "ready\n");
      else answer(res, 503, "not ready\n");
      return;
    }
    return inner(req, res);
  };
}

/** Access-log records for requests the gateway served (Gunicorn's atoms). */
function accessLogger(
  access: AccessLog,
): (req: IncomingRequest, res: ResponseWriter, rec: GatewayRecord) => void {
  return (req, res, rec) => {
    const now = process.hrtime.bigint();
    const durationUs = Number((now - req.startedAt) / 1000n);
    access.log({
      remoteAddress: req.connection.remoteAddress,
      remotePort: req.connection.remotePort,
      method: req.method,
      target: req.target,
      path: req.path,
      query: req.query,
      protocol: `HTTP/${req.versionMajor}.${req.versionMinor}`,
      status: res.status,
      bodyBytes: res.bodyBytesSent,
      requestHeaders: req.headers,
      responseHeaders: rec.responseHeaders,
      startTime: Date.now() - durationUs / 1000,
      durationUs,
      pid: rec.workerPid ?? process.pid,
      environ: { "wsgi.url_scheme": req.scheme },
    });
  };
}
