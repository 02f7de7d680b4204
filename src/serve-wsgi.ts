/**
 * `narwhal APP_MODULE [flags]`: boot the Python worker pool, then serve HTTP on the binds
 * with the WSGI gateway as the handler, until a signal stops it.
 *
 * Signal handlers only enqueue; one loop (the end of serveWsgi) acts on them in order — the shape
 * the supervisor (issue 4: HUP, TTIN/TTOU, USR1...) grows from. For now: TERM = graceful
 * stop (stop accepting, finish requests in flight, up to graceful_timeout), INT/QUIT =
 * quick stop.
 */
import { Arbiter, WorkerBootError } from "./arbiter/arbiter.js";
import { workerSpec } from "./arbiter/command.js";
import { findPython } from "./arbiter/interpreter.js";
import { NarwhalError } from "./core/errors.js";
import { LineSink, Logger, isLogLevel } from "./core/log.js";
import type { Settings } from "./config/resolved.js";
import { createWsgiHandler } from "./gateway/handler.js";
import type { GatewayRecord } from "./gateway/exchange.js";
import { openAccessLog, type AccessLog } from "./http/access-log.js";
import { HttpServer } from "./http/server.js";
import type { IncomingRequest, ResponseWriter } from "./http/types.js";
import { VERSION } from "./version.js";

export interface ServeWsgiOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Install SIGINT/SIGTERM/SIGQUIT handlers (default true; tests drive stop() instead). */
  readonly handleSignals?: boolean;
  /** Called once listening, with the running server (tests, embedding). */
  readonly onReady?: (running: RunningWsgi) => void;
}

export interface RunningWsgi {
  readonly server: HttpServer;
  readonly arbiter: Arbiter;
  /** Ask for a stop; the supervise loop carries it out. */
  stop(graceful: boolean): void;
}

type Command =
  { kind: "stop"; graceful: boolean; why: string } | { kind: "fatal"; code: number; why: string };

function settingOr(settings: Settings, name: string, fallback: number): number {
  try {
    return settings.num(name);
  } catch {
    return fallback;
  }
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
  try {
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
  log.info(`Starting narwhal ${VERSION}`);
  log.info(`Using worker: python (${python}), ${settings.num("threads")} thread(s) each`);

  const arbiter = new Arbiter({
    spec: workerSpec({
      python,
      app: appModule,
      threads: settings.num("threads"),
      chdir: settings.strOrNull("chdir"),
      pythonpath: settings.strOrNull("pythonpath"),
      rawEnv: settings.list("raw_env"),
      name: settings.strOrNull("proc_name"),
      baseEnv: env,
    }),
    workers: settings.num("workers"),
    maxQueue: settings.num("max_queue"),
    log,
    // Worker stdout/stderr go to the error log as they are, like Gunicorn's.
    output: (line) => {
      errorSink.write(line);
    },
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
  if (opts.handleSignals ?? true) {
    const on = (sig: NodeJS.Signals, graceful: boolean): void => {
      const h = (): void => {
        push({ kind: "stop", graceful, why: sig });
      };
      process.on(sig, h);
      signals.push([sig, h]);
    };
    on("SIGTERM", true);
    on("SIGINT", false);
    on("SIGQUIT", false);
  }
  const cleanup = (): void => {
    for (const [sig, h] of signals) process.removeListener(sig, h);
    accessLog?.close();
  };

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

  const handler = createWsgiHandler({
    pool: arbiter,
    log,
    bodyBufferSize: settings.num("client_body_buffer_size"),
    bodyTempDir: settings.strOrNull("client_body_temp_path"),
    ...(accessLog !== null ? { onDone: accessLogger(accessLog) } : {}),
  });
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

  opts.onReady?.({
    server,
    arbiter,
    stop: (graceful) => {
      push({ kind: "stop", graceful, why: "stop()" });
    },
  });

  const grace = settingOr(settings, "graceful_timeout", 30) * 1000;
  for (;;) {
    const c = commands.shift();
    if (c === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    if (c.kind === "stop") {
      log.info(`Handling signal: ${c.why.replace(/^SIG/, "").toLowerCase()}`);
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
    }
    // fatal: a replacement worker could not load the app (Gunicorn halts too).
    log.error(`Shutting down: ${c.why}`);
    await server.drain(0);
    cleanup();
    return c.code;
  }
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
