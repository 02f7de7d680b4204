/**
 * Harness for the deployment tests (issue 6): narwhal, Gunicorn and helper scripts as
 * real child processes (optionally inside a network namespace), the Django example
 * prepared in a temporary folder, and plain HTTP requests to loopback.
 *
 * Every child runs in its own process group so that `stop()` takes its Python workers
 * down with it, and every wait is bounded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../src/core/paths.js";

export const ROOT = repoRoot();
export const FIXTURES = join(ROOT, "test", "fixtures", "deploy");
export const LIFECYCLE = join(ROOT, "examples", "lifecycle");
/** The project's .venv interpreter (Django, Gunicorn), else python3 on PATH. */
export const PYTHON = existsSync(join(ROOT, ".venv/bin/python"))
  ? join(ROOT, ".venv/bin/python")
  : "python3";
export const GUNICORN = join(ROOT, ".venv/bin/gunicorn");

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when this file runs from TypeScript sources (tsx), false when compiled to dist/. */
const FROM_SOURCE = fileURLToPath(import.meta.url).endsWith(".ts");

/**
 * argv that runs a script of this folder (by its base name, no extension) with node:
 * the compiled .js under dist/, or the .ts through tsx.
 */
export function nodeScript(base: string): string[] {
  if (FROM_SOURCE)
    return [process.execPath, "--import", "tsx", join(ROOT, "test/deploy", base + ".ts")];
  return [process.execPath, join(ROOT, "dist/test/deploy", base + ".js")];
}

/** argv for `narwhal ARGS`: bin/narwhal when compiled, the sources through tsx otherwise. */
export function narwhalArgv(args: readonly string[]): string[] {
  if (FROM_SOURCE) return [...nodeScript("narwhal-cli"), ...args];
  return [process.execPath, join(ROOT, "bin/narwhal"), ...args];
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (128+signal number for a signal) once it is gone. */
  readonly exited: Promise<number>;
  /** Signal the whole process group (the server and its workers). */
  kill(signal: NodeJS.Signals): void;
  /** TERM the group, KILL it after `graceMs`; resolves once the leader is gone. */
  stop(graceMs?: number): Promise<void>;
}

const SIGNUM: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

/** Everything started here, stopped by `stopAll()` (after() hooks) and on exit. */
const live = new Set<Proc>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run inside this network namespace (`ip netns exec NS ...`). */
  netns?: string;
  /** Keep stdin as a pipe (for scripts driven by commands). */
  stdin?: boolean;
}

export function spawnProc(name: string, argv: readonly string[], o: SpawnOptions = {}): Proc {
  const full = o.netns !== undefined ? ["ip", "netns", "exec", o.netns, ...argv] : [...argv];
  const child = spawn(full[0]!, full.slice(1), {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, ...(o.env ?? {}) },
    stdio: [o.stdin === true ? "pipe" : "ignore", "pipe", "pipe"],
    // A process group of its own: signals reach the Python workers too.
    detached: true,
  });
  let err = "";
  let out = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    if (process.env["NARWHAL_TEST_LOG"]) process.stderr.write(`[${name}] ${d}`);
  });
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(proc);
      resolve(code ?? 128 + (signal !== null ? (SIGNUM[signal] ?? 0) : 0));
    });
  });
  const proc: Proc = {
    name,
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    kill(signal) {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    },
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => {
        proc.kill("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(t);
      // Workers left behind by a killed leader share its group.
      proc.kill("SIGKILL");
    },
  };
  live.add(proc);
  return proc;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Waits for `pattern` in the process's stderr (bounded); returns the match. */
export async function waitFor(
  p: Proc,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(p.stderr());
    if (m) return m;
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(
        `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before ${pattern}:\n${p.stderr()}`,
      );
    if (Date.now() > deadline)
      throw new Error(`${p.name}: no ${pattern} within ${timeoutMs} ms:\n${p.stderr()}`);
    await sleep(20);
  }
}

/** Waits until 127.0.0.1:port accepts a connection (bounded). */
export async function waitPort(
  port: number,
  p: Pick<Proc, "name" | "child" | "stderr">,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(
        `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.stderr()}`,
      );
    if (Date.now() > deadline)
      throw new Error(`${p.name}: port ${port} closed after ${timeoutMs} ms:\n${p.stderr()}`);
    await sleep(25);
  }
}

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

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** One HTTP/1.1 request to 127.0.0.1:port on a fresh connection (5 s bound). */
export function fetchLocal(
  port: number,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(o.body));
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.method ?? "GET",
        headers,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const body = Buffer.concat(parts);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString("utf8"),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${o.method ?? "GET"} ${path}`)));
    req.on("error", reject);
    req.end(o.body);
  });
}

/** The article's site file; only the listen port, the upstream and the alias path vary. */
export function articleSite(upstream: string, listenPort: number, staticRoot: string): string {
  return `upstream server_django {
    server ${upstream};
}
server {
    listen ${listenPort};
    location / {
        proxy_pass http://server_django;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Host $host;
        proxy_redirect off;
    }
    location /static/ {
        alias ${staticRoot}/;
    }
}
`;
}

export interface DjangoSite {
  readonly dir: string;
  readonly staticRoot: string;
  /** LIFECYCLE_* variables for narwhal, Gunicorn and manage.py. */
  readonly env: Record<string, string>;
  readonly user: string;
  readonly password: string;
  cleanup(): void;
}

/**
 * examples/lifecycle in a temporary folder: a migrated SQLite database, the collected
 * static files and a superuser (one Python start, about 2 s).
 */
export async function prepareDjango(): Promise<DjangoSite> {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-deploy-"));
  const staticRoot = join(dir, "static");
  const user = "deployadmin";
  const password = "Narwhal-deploy-" + String(process.pid);
  const env = {
    LIFECYCLE_DEBUG: "0",
    LIFECYCLE_DB: join(dir, "db.sqlite3"),
    LIFECYCLE_STATIC_ROOT: staticRoot,
    LIFECYCLE_MEDIA_ROOT: join(dir, "media"),
    LIFECYCLE_ALLOWED_HOSTS: "localhost,127.0.0.1",
  };
  const p = spawnProc("prepare_django", [PYTHON, join(FIXTURES, "prepare_django.py")], {
    cwd: LIFECYCLE,
    env: { ...env, DEPLOY_ADMIN_USER: user, DJANGO_SUPERUSER_PASSWORD: password },
  });
  const t = setTimeout(() => {
    p.kill("SIGKILL");
  }, 30_000);
  const code = await p.exited;
  clearTimeout(t);
  if (code !== 0 || !p.stdout().includes("prepared"))
    throw new Error(`prepare_django.py exited ${code}:\n${p.stderr()}`);
  return {
    dir,
    staticRoot,
    env,
    user,
    password,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `narwhal -t -c FILE`: null when the config is valid, else narwhal's message. */
export async function configProblem(file: string): Promise<string | null> {
  const p = spawnProc("narwhal -t", narwhalArgv(["-t", "-c", file]));
  const t = setTimeout(() => {
    p.kill("SIGKILL");
  }, 20_000);
  const code = await p.exited;
  clearTimeout(t);
  return code === 0 ? null : (p.stderr() + p.stdout()).trim();
}
