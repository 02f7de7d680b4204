/**
 * The deployment layouts the tests run, each as real processes on loopback:
 *
 *   two processes   narwhal APP --bind 127.0.0.1:A   +  narwhal -c site.conf (listen B)
 *   Gunicorn        gunicorn APP --bind 127.0.0.1:A  +  narwhal -c site.conf (listen B)
 *   one process     narwhal -c site.conf with `app NAME {...}` and `app_pass NAME`
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitListening } from "./netns.js";
import {
  GUNICORN,
  LIFECYCLE,
  PYTHON,
  articleSite,
  configProblem,
  freePort,
  narwhalArgv,
  spawnProc,
  waitFor,
  waitPort,
  type DjangoSite,
  type Proc,
} from "./harness.js";

export interface Layout {
  /** The port a client (or the browser) talks to. */
  readonly port: number;
  /** The app server's address for a proxy (`127.0.0.1:PORT`); "" in one process. */
  readonly upstream: string;
  readonly procs: readonly Proc[];
  stop(): Promise<void>;
}

const listening = (port: number): RegExp =>
  new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port}\\b`);

/** Where a layout runs: loopback of this machine, or a namespace of its own. */
export interface Place {
  /** Run every process inside this network namespace (its own loopback and ports). */
  readonly netns?: string;
  readonly appPort?: number;
  readonly frontPort?: number;
}

const alive = (p: Proc) => (): boolean => p.child.exitCode === null && p.child.signalCode === null;

/** `narwhal -c FILE` serving the given site text; resolves once it accepts connections. */
export async function startFront(
  text: string,
  port: number,
  dir: string,
  env: Record<string, string> = {},
  netns?: string,
): Promise<Proc> {
  const file = join(dir, `site-${netns ?? "lo"}-${port}.conf`);
  writeFileSync(file, text);
  const p = spawnProc(`front:${port}`, narwhalArgv(["-c", file]), {
    env,
    ...(netns !== undefined ? { netns } : {}),
  });
  if (netns !== undefined) await waitListening(netns, port, alive(p));
  else await waitPort(port, p);
  return p;
}

/** `narwhal MODULE --bind 127.0.0.1:PORT` (Gunicorn's command line). */
export async function startNarwhalApp(
  module: string,
  chdir: string,
  port: number,
  env: Record<string, string>,
  workers = 2,
  netns?: string,
): Promise<Proc> {
  const p = spawnProc(
    `narwhal:${port}`,
    narwhalArgv([
      "--python",
      PYTHON,
      "--chdir",
      chdir,
      module,
      "--bind",
      `127.0.0.1:${port}`,
      "--workers",
      String(workers),
    ]),
    { env, ...(netns !== undefined ? { netns } : {}) },
  );
  await waitFor(p, listening(port));
  return p;
}

async function stopAllOf(procs: readonly Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}

/** The article's two processes with narwhal as the app server. */
export async function twoProcesses(dj: DjangoSite, at: Place = {}): Promise<Layout> {
  const portA = at.appPort ?? (await freePort());
  const portB = at.frontPort ?? (await freePort());
  const app = await startNarwhalApp(
    "lifecycle.wsgi:application",
    LIFECYCLE,
    portA,
    dj.env,
    2,
    at.netns,
  );
  const front = await startFront(
    articleSite(`127.0.0.1:${portA}`, portB, dj.staticRoot),
    portB,
    dj.dir,
    {},
    at.netns,
  );
  const procs = [front, app];
  return { port: portB, upstream: `127.0.0.1:${portA}`, procs, stop: () => stopAllOf(procs) };
}

/** The article's stack with a real Gunicorn behind narwhal's front. */
export async function behindGunicorn(dj: DjangoSite): Promise<Layout> {
  const portA = await freePort();
  const portB = await freePort();
  const app = spawnProc(
    `gunicorn:${portA}`,
    [
      GUNICORN,
      "lifecycle.wsgi:application",
      "--bind",
      `127.0.0.1:${portA}`,
      "--chdir",
      LIFECYCLE,
      "--workers",
      "2",
    ],
    { env: dj.env },
  );
  await waitFor(app, listening(portA));
  const front = await startFront(
    articleSite(`127.0.0.1:${portA}`, portB, dj.staticRoot),
    portB,
    dj.dir,
  );
  const procs = [front, app];
  return { port: portB, upstream: `127.0.0.1:${portA}`, procs, stop: () => stopAllOf(procs) };
}

/**
 * The same site in one process: `location /` hands requests to the `app` block's worker
 * pool (`app_pass`) instead of proxying; `/static/` is unchanged.
 */
export function oneProcessSite(
  listenPort: number,
  staticRoot: string,
  app: { module: string; chdir: string } = {
    module: "lifecycle.wsgi:application",
    chdir: LIFECYCLE,
  },
): string {
  return `app django {
    module ${app.module};
    chdir ${app.chdir};
    python ${PYTHON};
    workers 2;
}
server {
    listen ${listenPort};
    location / {
        app_pass django;
    }
    location /static/ {
        alias ${staticRoot}/;
    }
}
`;
}

/**
 * One process, or a string saying why not (the config is refused: `app`/`app_pass`
 * are not in this build).
 */
export async function oneProcess(
  dj: DjangoSite,
  at: Place = {},
  app?: { module: string; chdir: string },
): Promise<Layout | string> {
  const port = at.frontPort ?? (await freePort());
  const file = join(dj.dir, `one-${port}.conf`);
  writeFileSync(file, oneProcessSite(port, dj.staticRoot, app));
  const problem = await configProblem(file);
  if (problem !== null) return problem;
  const front = await startFront(
    oneProcessSite(port, dj.staticRoot, app),
    port,
    dj.dir,
    dj.env,
    at.netns,
  );
  return { port, upstream: "", procs: [front], stop: () => stopAllOf([front]) };
}
