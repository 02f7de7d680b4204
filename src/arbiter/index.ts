/**
 * The arbiter's public face: start a pool of Python workers for one WSGI app.
 *
 * @example
 * const pool = await startPool({ app: "site.wsgi:application", workers: 4, threads: 2, log, output: (l) => sink.write(l) });
 * const handler = createWsgiHandler({ pool, log, bodyBufferSize: 1 << 20 });
 * await pool.stop(true, 30_000);
 */
import type { Logger } from "../core/log.js";
import { Arbiter } from "./arbiter.js";
import { workerSpec } from "./command.js";
import { findPython } from "./interpreter.js";

export {
  Arbiter,
  PoolUnavailable,
  WorkerBootError,
  type ArbiterOptions,
  type Lease,
  type ReloadPlan,
} from "./arbiter.js";
export { parseRawEnv, workerSpec, type WorkerCommandOptions } from "./command.js";
export { findPython } from "./interpreter.js";
export type { RequestSink, WorkerSpec } from "./worker.js";

export interface PoolOptions {
  /** APP_MODULE: module:callable, module, module:factory(...). */
  readonly app: string;
  /** --python; null/undefined = $VIRTUAL_ENV/bin/python, else python3 on PATH. */
  readonly python?: string | null;
  readonly workers: number;
  readonly threads: number;
  readonly chdir?: string | null;
  readonly pythonpath?: string | null;
  /** -e KEY=VALUE strings. */
  readonly rawEnv?: readonly string[];
  readonly name?: string | null;
  /** --max-queue (default 1024). */
  readonly maxQueue?: number;
  readonly log: Logger;
  /** Workers' stdout/stderr lines (the error log). */
  readonly output: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly bootTimeoutMs?: number;
  /** --timeout in ms: per-request deadline (504, stack logged, worker replaced); 0/absent = none. */
  readonly timeoutMs?: number;
  /** --max-requests / --max-requests-jitter. */
  readonly maxRequests?: number;
  readonly maxRequestsJitter?: number;
  /** --graceful-timeout in ms for retired workers. */
  readonly gracefulTimeoutMs?: number;
  /** --preload: fork the workers from a zygote. */
  readonly preload?: boolean;
  /** Requests a worker holds beyond its threads (default 1). */
  readonly pipeline?: number;
}

/**
 * Find the interpreter, spawn the workers, wait until every one is ready. Throws a
 * NarwhalError (no interpreter) or WorkerBootError (the app cannot be loaded; nothing is
 * left running).
 */
export async function startPool(o: PoolOptions): Promise<Arbiter> {
  const env = o.env ?? process.env;
  const python = findPython(o.python ?? null, env);
  const arbiter = new Arbiter({
    spec: workerSpec({
      python,
      app: o.app,
      threads: o.threads,
      chdir: o.chdir ?? null,
      pythonpath: o.pythonpath ?? null,
      rawEnv: o.rawEnv ?? [],
      name: o.name ?? null,
      baseEnv: env,
    }),
    workers: o.workers,
    maxQueue: o.maxQueue ?? 1024,
    log: o.log,
    output: o.output,
    ...(o.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
    ...(o.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: o.heartbeatTimeoutMs } : {}),
    ...(o.bootTimeoutMs !== undefined ? { bootTimeoutMs: o.bootTimeoutMs } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.maxRequests !== undefined ? { maxRequests: o.maxRequests } : {}),
    ...(o.maxRequestsJitter !== undefined ? { maxRequestsJitter: o.maxRequestsJitter } : {}),
    ...(o.gracefulTimeoutMs !== undefined ? { gracefulTimeoutMs: o.gracefulTimeoutMs } : {}),
    ...(o.preload !== undefined ? { preload: o.preload } : {}),
    ...(o.pipeline !== undefined ? { pipeline: o.pipeline } : {}),
  });
  await arbiter.start();
  return arbiter;
}
