/**
 * Supervisor tests: narwhal as a real process (test/gateway's runCli) serving a small app
 * written into a temp dir, so that a test can rewrite it and send HUP.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { listeningPort, PYTHON, runCli, sleep, type CliRun } from "../gateway/harness.js";

export { listeningPort, PYTHON, runCli, sleep, type CliRun };

/**
 * The app: `/` answers "VERSION pid ppid", `/slow?s=N` sleeps N seconds in `slow_view`,
 * `/stuck` sleeps 30 s in `sleepy_view_for_timeout`, `/id` answers "uid gid", `/len` the
 * length of the request body it read.
 */
export function appSource(version: string, broken = false): string {
  return `${broken ? "raise RuntimeError('broken on purpose')\n" : ""}import os, time
VERSION = ${JSON.stringify(version)}

def sleepy_view_for_timeout():
    time.sleep(30)

def slow_view(s):
    time.sleep(s)

def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    qs = environ.get("QUERY_STRING", "")
    if path == "/id":
        body = ("%d %d" % (os.getuid(), os.getgid())).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/len":
        body = str(len(environ["wsgi.input"].read())).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/slow":
        slow_view(float(qs.split("=")[1]) if "=" in qs else 1.0)
    elif path == "/stuck":
        sleepy_view_for_timeout()
    body = ("%s %d %d" % (VERSION, os.getpid(), os.getppid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`;
}

export interface AppDir {
  readonly dir: string;
  write(version: string, broken?: boolean): void;
  remove(): void;
}

export function appDir(version = "v0", broken = false): AppDir {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-sup-"));
  const write = (v: string, broken = false): void => {
    writeFileSync(join(dir, "supapp.py"), appSource(v, broken));
  };
  write(version, broken);
  return {
    dir,
    write,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Running {
  readonly run: CliRun;
  readonly port: number;
  /** Send a signal to the master. */
  kill(sig: NodeJS.Signals): void;
  /** Quick stop (if still running) and wait for the exit code. */
  close(): Promise<number>;
}

/** `narwhal --chdir DIR -b 127.0.0.1:0 --python PYTHON ARGS supapp:app`, listening. */
export async function serve(
  dir: string,
  args: string[],
  app = "supapp:app",
  errorLog: string | null = null,
): Promise<Running> {
  // No .pyc: a rewrite within the same second with the same size would look unchanged.
  const run = runCli(["--chdir", dir, "-b", "127.0.0.1:0", "--python", PYTHON, ...args, app], {
    PYTHONDONTWRITEBYTECODE: "1",
  });
  const port =
    errorLog === null
      ? await listeningPort(run)
      : await listeningPort({
          ...run,
          stderr: () => (existsSync(errorLog) ? readFileSync(errorLog, "utf8") : ""),
        });
  return {
    run,
    port,
    kill: (sig) => {
      run.child.kill(sig);
    },
    close: async () => {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGINT");
      const t = setTimeout(() => run.child.kill("SIGKILL"), 10_000);
      const code = await run.exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** One GET on a fresh connection. */
export function get(
  port: number,
  path: string,
  timeoutMs = 20_000,
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, agent: false, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Polls `check` every 25 ms until it returns true or `ms` pass; returns whether it did. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(25);
  }
}

/** The worker pids named in the error log's "Booted worker N with pid: P" lines, in order. */
export function bootedPids(stderr: string): number[] {
  return [...stderr.matchAll(/Booted worker \d+ with pid: (\d+)/g)].map((m) => Number(m[1]));
}
