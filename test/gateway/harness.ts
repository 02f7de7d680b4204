/**
 * Test harness for the WSGI gateway: a real worker pool (Python processes) behind a real
 * HttpServer on 127.0.0.1:0, in this process; and narwhal itself as a child process for
 * the command-line tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, setGlobalDispatcher } from "undici";
import { Arbiter } from "../../src/arbiter/arbiter.js";
import { workerSpec } from "../../src/arbiter/command.js";
import { Settings } from "../../src/config/resolved.js";
import type { SettingValue } from "../../src/config/setting-types.js";
import { LineSink, Logger } from "../../src/core/log.js";
import { repoRoot } from "../../src/core/paths.js";
import type { GatewayRecord } from "../../src/gateway/exchange.js";
import { createWsgiHandler } from "../../src/gateway/handler.js";
import { HttpServer } from "../../src/http/server.js";
import type { IncomingRequest } from "../../src/http/types.js";

// fetch() keeps idle connections for 4 s by default, and a server drain waits for them.
setGlobalDispatcher(new Agent({ keepAliveTimeout: 50, keepAliveMaxTimeout: 50 }));

export const ROOT = repoRoot();
export const APPS = join(ROOT, "test", "apps");
export const EXAMPLES = join(ROOT, "examples");
/** The interpreter the tests use: the project's .venv (Django, Flask), else python3. */
export const PYTHON = existsSync(join(ROOT, ".venv/bin/python"))
  ? join(ROOT, ".venv/bin/python")
  : "python3";

/** A LineSink that keeps lines in memory (and echoes them when NARWHAL_TEST_LOG is set). */
export class CaptureSink extends LineSink {
  readonly lines: string[] = [];
  constructor() {
    super("-");
  }
  override write(line: string): void {
    this.lines.push(line);
    if (process.env["NARWHAL_TEST_LOG"])
      process.stderr.write(line.endsWith("\n") ? line : line + "\n");
  }
  override reopen(): void {}
  override close(): void {}
  text(): string {
    return this.lines.join("\n");
  }
}

export interface GatewayOptions {
  app: string;
  chdir?: string;
  pythonpath?: string;
  workers?: number;
  threads?: number;
  maxQueue?: number;
  env?: string[];
  bodyBufferSize?: number;
  bodyTempDir?: string;
  settings?: Record<string, SettingValue>;
  heartbeatTimeoutMs?: number;
  /** Requests a worker holds beyond its threads (the arbiter's default is 1). */
  pipeline?: number;
}

export interface TestGateway {
  readonly port: number;
  readonly arbiter: Arbiter;
  readonly server: HttpServer;
  readonly log: CaptureSink;
  /** Gateway records by request target, in completion order. */
  readonly records: Array<{ target: string; record: GatewayRecord }>;
  url(path: string): string;
  stop(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<TestGateway> {
  const sink = new CaptureSink();
  const log = new Logger(sink, "info");
  const settings = new Settings().with({
    client_max_body_size: 64 * 1024 * 1024,
    ...(o.settings ?? {}),
  });
  const arbiter = new Arbiter({
    spec: workerSpec({
      python: PYTHON,
      app: o.app,
      threads: o.threads ?? 1,
      chdir: o.chdir ?? APPS,
      pythonpath: o.pythonpath ?? null,
      rawEnv: o.env ?? [],
    }),
    workers: o.workers ?? 1,
    maxQueue: o.maxQueue ?? 64,
    log,
    output: (line) => {
      sink.write(line);
    },
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs ?? 10_000,
    ...(o.pipeline !== undefined ? { pipeline: o.pipeline } : {}),
  });
  await arbiter.start();
  const records: Array<{ target: string; record: GatewayRecord }> = [];
  const handler = createWsgiHandler({
    pool: arbiter,
    log,
    bodyBufferSize: o.bodyBufferSize ?? 1024 * 1024,
    bodyTempDir: o.bodyTempDir ?? null,
    onDone: (req: IncomingRequest, _res, record) => records.push({ target: req.target, record }),
  });
  const server = new HttpServer({ handler, logger: log, settings });
  await server.listen(["127.0.0.1:0"]);
  const port = server.address()[0]!.port;
  return {
    port,
    arbiter,
    server,
    log: sink,
    records,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stop: async () => {
      await server.drain(500);
      await arbiter.stop(false);
    },
  };
}

/** How to run narwhal's command line from here: compiled (dist) or through tsx (src). */
export function cliCommand(): { cmd: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    return {
      cmd: process.execPath,
      args: ["--import", "tsx", join(ROOT, "test/gateway/narwhal-cli.ts")],
    };
  }
  return { cmd: process.execPath, args: [join(ROOT, "dist/test/gateway/narwhal-cli.js")] };
}

export interface CliRun {
  readonly child: ChildProcess;
  /** Everything written to stderr and stdout so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or 128+signal) once the process is gone. */
  readonly exited: Promise<number>;
}

/** Runs `narwhal ARGS`; `env` is added to the environment. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): CliRun {
  const { cmd, args: pre } = cliCommand();
  const child = spawn(cmd, [...pre, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15));
    });
  });
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** Waits for "Listening at: http://HOST:PORT" in the error log; returns the port. */
export async function listeningPort(run: CliRun, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /Listening at: http:\/\/[^\s]*:(\d+)/.exec(run.stderr());
    if (m) return Number(m[1]);
    if (run.child.exitCode !== null)
      throw new Error(`narwhal exited with ${run.child.exitCode}:\n${run.stderr()}`);
    if (Date.now() > deadline)
      throw new Error(`narwhal did not listen within ${timeoutMs} ms:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The last gateway record for `target` matching `pred`, waiting up to 2 s: a response with
 * Content-Length is complete for the client before the worker's RESPONSE_END arrives.
 */
export async function recordFor(
  gw: TestGateway,
  target: string,
  pred: (r: GatewayRecord) => boolean = () => true,
): Promise<GatewayRecord> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const hit = gw.records.findLast((x) => x.target === target && pred(x.record));
    if (hit) return hit.record;
    if (Date.now() > deadline) throw new Error(`no gateway record for ${target}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lines of the captured log that look like wsgiref.validate complaints. */
export function validatorComplaints(text: string): string[] {
  return text.split("\n").filter((l) => /WSGIWarning|AssertionError|Exception ignored/.test(l));
}
