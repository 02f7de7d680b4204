/**
 * Start and stop a server under test, every wait bounded: spawn it in its own process
 * group, wait until an HTTP GET answers 200 and the process tree stops growing (all
 * workers booted), and stop it with SIGINT (quick stop for Gunicorn, uWSGI, nginx and
 * narwhal alike), then SIGKILL to whatever of the tree is left after a grace period.
 *
 *   const s = await startServer({ name: "gunicorn", cmd: ".venv/bin/gunicorn", args, port });
 *   ... s.pids() ...
 *   await s.stop();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { treePids } from "./proctree.js";

export interface ServerSpec {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly port: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The path probed for readiness (default "/"). */
  readonly probePath?: string;
  /** The tree must reach at least this many processes before it counts as ready. */
  readonly minProcesses?: number;
  /** stdout and stderr go here (a file path); default: discarded. */
  readonly logFile?: string;
  readonly startTimeoutMs?: number;
}

export interface RunningServer {
  readonly spec: ServerSpec;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The live process tree now. */
  pids(): number[];
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

/** GET http://127.0.0.1:port/path with a timeout: the status, or 0 on any failure. */
export async function probe(port: number, path = "/", timeoutMs = 2000): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const child = spawn(spec.cmd, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true, // own process group: stop() signals the whole tree
    stdio: ["ignore", spec.logFile ? "pipe" : "ignore", spec.logFile ? "pipe" : "ignore"],
  });
  if (spec.logFile !== undefined) {
    const out = createWriteStream(spec.logFile, { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: could not start ${spec.cmd}`);
  // An object, so that the narrowing of `exited` survives the callback assigning it.
  const early: { exited: string | null } = { exited: null };
  child.once("exit", (code, sig) => {
    early.exited = `${spec.name} exited (${String(code ?? sig)}) before it was ready`;
  });
  const running: RunningServer = {
    spec,
    child,
    pid,
    pids: () => treePids(pid),
    stop: () => stopTree(child, pid),
  };
  const until = Date.now() + (spec.startTimeoutMs ?? 30_000);
  const path = spec.probePath ?? "/";
  let status = 0;
  while (Date.now() < until) {
    if (early.exited !== null)
      throw new Error(early.exited + (spec.logFile ? `; see ${spec.logFile}` : ""));
    status = await probe(spec.port, path, 2000);
    if (status === 200) break;
    await sleep(100);
  }
  if (status !== 200) {
    await running.stop();
    throw new Error(
      `${spec.name}: GET ${path} gave ${status || "no answer"} within the start timeout`,
    );
  }
  // Ready when the tree is complete and has stopped changing for 500 ms.
  let last = "";
  let stableSince = Date.now();
  while (Date.now() < until) {
    const now = treePids(pid).sort().join(",");
    const n = now.split(",").length;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (n >= (spec.minProcesses ?? 1) && Date.now() - stableSince >= 500) break;
    await sleep(100);
  }
  return running;
}

async function stopTree(child: ChildProcess, pid: number): Promise<void> {
  const all = treePids(pid);
  const kill = (target: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(target, sig);
    } catch {
      // gone already
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    const done = new Promise<void>((r) =>
      child.once("exit", () => {
        r();
      }),
    );
    kill(pid, "SIGINT");
    await Promise.race([done, sleep(5000)]);
  }
  // The group first (covers workers that the root did not reap), then stragglers by pid.
  kill(-pid, "SIGKILL");
  for (const p of all) kill(p, "SIGKILL");
  const until = Date.now() + 3000;
  while (Date.now() < until && all.some((p) => treePids(p).includes(p))) await sleep(50);
}
