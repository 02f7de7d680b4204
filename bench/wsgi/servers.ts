/**
 * The WSGI servers under comparison and the apps they serve, as ServerSpecs: narwhal,
 * Gunicorn sync, Gunicorn gthread (--threads 8) and uWSGI (--http-socket, master + N
 * processes), all with the same worker count and no access log.
 */
import { join } from "node:path";
import { EXAMPLES, LIFECYCLE, PYTHON, sitePackages } from "../lib/env.js";
import type { ServerSpec } from "../lib/server.js";

export interface App {
  readonly name: "hello" | "django";
  /** Directory the server changes to (and puts on the module path). */
  readonly dir: string;
  /** Gunicorn-style APP_MODULE. */
  readonly module: string;
  readonly path: string;
  readonly env: NodeJS.ProcessEnv;
}

export function helloApp(): App {
  return {
    name: "hello",
    dir: EXAMPLES,
    module: "hello_world:process_http_request",
    path: "/",
    env: { ...process.env },
  };
}

/** The lifecycle project's template view (`/` renders pages/index.html; no DB query). */
export function djangoApp(env: NodeJS.ProcessEnv): App {
  return { name: "django", dir: LIFECYCLE, module: "lifecycle.wsgi:application", path: "/", env };
}

export type ServerName = "narwhal" | "gunicorn-sync" | "gunicorn-gthread" | "uwsgi";
export const SERVER_NAMES: readonly ServerName[] = [
  "narwhal",
  "gunicorn-sync",
  "gunicorn-gthread",
  "uwsgi",
];

export interface SpecOptions {
  readonly workers: number;
  readonly port: number;
  readonly logFile: string;
  /** node + args that run narwhal (narwhalCommand()). */
  readonly narwhal: { cmd: string; args: string[] };
  /** Extra node flags for narwhal (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
}

/** With BENCH_PYTHON set to a non-venv interpreter, the venv's packages go on PYTHONPATH. */
function pyEnv(app: App): NodeJS.ProcessEnv {
  if (process.env["BENCH_PYTHON"] === undefined) return app.env;
  const sp = sitePackages();
  const pp = app.env["PYTHONPATH"];
  return { ...app.env, PYTHONPATH: pp ? `${sp}:${pp}` : sp };
}

export function serverSpec(name: ServerName, app: App, o: SpecOptions): ServerSpec {
  const bind = `127.0.0.1:${o.port}`;
  const base = {
    name,
    port: o.port,
    probePath: app.path,
    minProcesses: 1 + o.workers,
    logFile: o.logFile,
    env: pyEnv(app),
  };
  const w = String(o.workers);
  switch (name) {
    case "narwhal":
      return {
        ...base,
        cmd: o.narwhal.cmd,
        args: [
          ...(o.nodeFlags ?? []),
          ...o.narwhal.args,
          "--python",
          PYTHON,
          "--chdir",
          app.dir,
          app.module,
          "--bind",
          bind,
          "-w",
          w,
        ],
      };
    case "gunicorn-sync":
    case "gunicorn-gthread":
      return {
        ...base,
        cmd: PYTHON,
        args: [
          "-m",
          "gunicorn",
          "--chdir",
          app.dir,
          "-b",
          bind,
          "-w",
          w,
          ...(name === "gunicorn-gthread" ? ["-k", "gthread", "--threads", "8"] : []),
          app.module,
        ],
      };
    case "uwsgi": {
      // Debian's uwsgi embeds Debian's libpython 3.11: the venv's packages join its path
      // (--virtualenv would point PYTHONHOME at a venv without a stdlib of that build).
      const [mod, callable] = app.module.split(":");
      return {
        ...base,
        cmd: "uwsgi",
        args: [
          "--plugin",
          "python3",
          "--http-socket",
          bind,
          "--master",
          "--processes",
          w,
          "--chdir",
          app.dir,
          "--pythonpath",
          app.dir,
          "--pythonpath",
          sitePackages(),
          "--wsgi-file",
          join(app.dir, `${(mod ?? "").replaceAll(".", "/")}.py`),
          "--callable",
          callable ?? "application",
          "--disable-logging", // uWSGI logs every request by default; the others do not
          "--listen",
          "2048", // as Gunicorn and narwhal (uWSGI's default 100 refuses connections at -c256)
          "--need-app",
          "--die-on-term",
        ],
      };
    }
  }
}
