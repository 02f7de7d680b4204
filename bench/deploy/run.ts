/**
 * The classic deployment benchmark (issue 6; not in CI), in one run on loopback:
 *
 *   nginx+gunicorn     Debian's nginx (foreground, own temp config holding the article's
 *                      site file) in front of Gunicorn sync -w N: the article's stack
 *   narwhal+gunicorn   `narwhal -c` the same config, in front of the same Gunicorn
 *   narwhal one-proc   `narwhal -c` the same site with `app NAME { ... }` + `app_pass NAME`
 *                      instead of the upstream: no loopback hop, one process tree
 *
 * on the hello app and the Django lifecycle template view. The CPU and memory columns
 * count the front and its upstream together. When the config with `app_pass` does not
 * load (`narwhal -t` fails), the one-process column reads "n/a (not built yet)".
 *
 *   npx tsx bench/deploy/run.ts [--quick] [--write] [--apps hello,django]
 *
 * Environment as bench/wsgi/run.ts (BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS,
 * BENCH_WORKERS, BENCH_CONNS default "64", BENCH_PYTHON, BENCH_NARWHAL), plus
 * BENCH_NGINX_WORKERS (nginx worker_processes; default auto, Debian's). The warm-up is
 * 10 s here (2 s in bench/wsgi): V8 compiles by call counts, and at the ~1k req/s of the
 * proxied Django view the front's hot path was still being compiled (~14% of its CPU)
 * after a few seconds. The table compares servers in their steady state.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { narwhalCommand, prepareDjango, PYTHON, REPO, scratch } from "../lib/env.js";
import { measure, type Measurement } from "../lib/measure.js";
import {
  envNumber,
  fix,
  int,
  machineLine,
  mdTable,
  median,
  mib,
  ratio,
  versionOf,
} from "../lib/report.js";
import { freePort, startServer, type RunningServer } from "../lib/server.js";
import { djangoApp, helloApp, serverSpec, type App } from "../wsgi/servers.js";

const argv = process.argv.slice(2);
const flag = (n: string): string | undefined => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes("--quick");
const duration = envNumber("BENCH_DURATION", quick ? 3 : 8);
const warmup = envNumber("BENCH_WARMUP", quick ? 1 : 10);
const rounds = Math.max(1, envNumber("BENCH_ROUNDS", 1));
const workers = envNumber("BENCH_WORKERS", 2);
const conns = (process.env["BENCH_CONNS"] ?? "64").split(",").map(Number);
const nginxWorkers = process.env["BENCH_NGINX_WORKERS"] ?? "auto";
const apps = flag("--apps")?.split(",") ?? ["hello", "django"];
const log = (s: string): void => void process.stderr.write(s + "\n");

type Setup = "nginx+gunicorn" | "narwhal+gunicorn" | "narwhal one-process";
const SETUPS: readonly Setup[] = ["nginx+gunicorn", "narwhal+gunicorn", "narwhal one-process"];

/**
 * The article's site file (only the listen port, the upstream port and the alias path
 * changed), or its one-process variant, inside a main config with Debian's nginx.conf
 * basics and no access log (none of the WSGI servers logs either). nginx alone gets
 * `daemon off` and temp paths in the scratch dir (Debian's are under /var/lib/nginx);
 * narwhal has no such directives, and needs none.
 */
function config(dir: string, port: number, body: string, forNginx: boolean): string {
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const t = (n: string): string => `    ${n} ${join(dir, "tmp", n)};\n`;
  const temps = [
    "client_body_temp_path",
    "proxy_temp_path",
    "fastcgi_temp_path",
    "uwsgi_temp_path",
    "scgi_temp_path",
  ];
  return `${forNginx ? "daemon off;\n" : ""}worker_processes ${nginxWorkers};
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")};
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    access_log off;
${forNginx ? temps.map(t).join("") : ""}${body.replaceAll("PORT", String(port))}
}
`;
}

const ARTICLE = (upPort: number, staticDir: string): string => `
upstream server_django {
    server 127.0.0.1:${upPort};
}
server {
    listen 127.0.0.1:PORT;
    location / {
        proxy_pass http://server_django;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Host $host;
        proxy_redirect off;
    }
    location /static/ {
        alias ${staticDir}/;
    }
}`;

/** One-process mode: the names issue 6 suggests (`app NAME { ... }`, `app_pass NAME`). */
const ONE_PROCESS = (app: App, staticDir: string): string => `
app server_django {
    module ${app.module};
    chdir ${app.dir};
    python ${PYTHON};
    workers ${workers};
}
server {
    listen 127.0.0.1:PORT;
    location / {
        app_pass server_django;
    }
    location /static/ {
        alias ${staticDir}/;
    }
}`;

interface Cell {
  setup: Setup;
  app: string;
  conns: number;
  runs: Measurement[];
}

async function main(): Promise<void> {
  const work = scratch("deploy");
  try {
    const startedAt = machineLine();
    log("building narwhal...");
    const narwhal = narwhalCommand(work.dir);
    log(`narwhal: ${narwhal.note}`);
    const djangoDir = join(work.dir, "django");
    const appList: App[] = [];
    if (apps.includes("hello")) appList.push(helloApp());
    if (apps.includes("django")) appList.push(djangoApp(prepareDjango(djangoDir, true)));
    const staticDir = join(djangoDir, "static");
    mkdirSync(staticDir, { recursive: true });

    const cells = new Map<string, Cell>();
    const notes: string[] = [];
    const record = (setup: Setup, app: string, c: number, m: Measurement): void => {
      const k = `${setup}/${app}/${c}`;
      const cell = cells.get(k) ?? { setup, app, conns: c, runs: [] };
      cell.runs.push(m);
      cells.set(k, cell);
      log(
        `${setup} ${app} -c${c}: ${int(m.wrk.rps)} req/s, p50 ${fix(m.wrk.p50Ms)} ms, p99 ${fix(m.wrk.p99Ms)} ms, ` +
          `${fix(m.cpuUsPerReq, 0)} µs CPU/req, RSS ${mib(m.rssKb)} MiB ${m.wrk.errors}`,
      );
    };
    const load = (front: RunningServer, app: App, upstream: RunningServer[]): Measurement[] =>
      conns.map((c) =>
        measure(front, {
          path: app.path,
          conns: c,
          seconds: duration,
          warmupSeconds: warmup,
          alsoCount: upstream,
        }),
      );
    let onePossible: boolean | null = null;

    for (let round = 0; round < rounds; round++) {
      for (const app of appList) {
        // The same Gunicorn behind both fronts.
        const upPort = await freePort();
        const gunicorn = await startServer({
          ...serverSpec("gunicorn-sync", app, {
            workers,
            port: upPort,
            logFile: join(work.dir, `gunicorn-${app.name}.log`),
            narwhal,
          }),
          cwd: app.dir,
        });
        try {
          const fronts: Setup[] =
            round % 2 === 0
              ? ["nginx+gunicorn", "narwhal+gunicorn"]
              : ["narwhal+gunicorn", "nginx+gunicorn"];
          for (const setup of fronts) {
            const port = await freePort();
            const dir = join(work.dir, `${setup.replace(/\W/g, "-")}-${app.name}`);
            mkdirSync(join(dir, "logs"), { recursive: true });
            const conf = join(dir, "site.conf");
            writeFileSync(
              conf,
              config(dir, port, ARTICLE(upPort, staticDir), setup === "nginx+gunicorn"),
            );
            const front = await startServer({
              name: setup,
              port,
              probePath: app.path,
              logFile: join(dir, "out.log"),
              env: app.env,
              ...(setup === "nginx+gunicorn"
                ? { cmd: "nginx", args: ["-p", dir, "-c", conf, "-e", join(dir, "error.log")] }
                : { cmd: narwhal.cmd, args: [...narwhal.args, "-c", conf] }),
            });
            try {
              load(front, app, [gunicorn]).forEach((m, i) => {
                record(setup, app.name, conns[i]!, m);
              });
            } finally {
              await front.stop();
            }
          }
        } finally {
          await gunicorn.stop();
        }

        // One process: narwhal serves the site and runs the app's workers itself.
        const port = await freePort();
        const dir = join(work.dir, `one-process-${app.name}`);
        mkdirSync(join(dir, "logs"), { recursive: true });
        const conf = join(dir, "site.conf");
        writeFileSync(conf, config(dir, port, ONE_PROCESS(app, staticDir), false));
        if (onePossible === null) {
          const t = spawnSync(narwhal.cmd, [...narwhal.args, "-t", "-c", conf], {
            encoding: "utf8",
            timeout: 30_000,
          });
          onePossible = t.status === 0;
          if (!onePossible) {
            const why =
              (t.stderr + t.stdout)
                .trim()
                .split("\n")
                .find((l) => l.includes("emerg")) ?? "";
            notes.push(
              `one-process mode: \`narwhal -t\` refused the \`app\`/\`app_pass\` config: ${why.replace(dir, "DIR")}`,
            );
            log(`one-process mode not available: ${why}`);
          }
        }
        if (onePossible) {
          const one = await startServer({
            name: "narwhal one-process",
            cmd: narwhal.cmd,
            args: [...narwhal.args, "-c", conf],
            port,
            probePath: app.path,
            minProcesses: 1 + workers,
            logFile: join(dir, "out.log"),
            env: app.env,
            cwd: app.dir,
          });
          try {
            load(one, app, []).forEach((m, i) => {
              record("narwhal one-process", app.name, conns[i]!, m);
            });
          } finally {
            await one.stop();
          }
        }
      }
    }

    const sections: string[] = [];
    const targets: string[] = [];
    for (const app of appList) {
      for (const c of conns) {
        const get = (s: Setup): Measurement | undefined => {
          const cell = cells.get(`${s}/${app.name}/${c}`);
          if (cell === undefined) return undefined;
          // The run with the median req/s stands for the cell.
          const mid = median(cell.runs.map((m) => m.wrk.rps));
          return cell.runs.reduce((a, b) =>
            Math.abs(b.wrk.rps - mid) < Math.abs(a.wrk.rps - mid) ? b : a,
          );
        };
        const base = get("nginx+gunicorn");
        const rows = SETUPS.map((s) => {
          const m = get(s);
          if (m === undefined)
            return [
              s,
              s === "narwhal one-process" ? "n/a (not built yet)" : "–",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
            ];
          return [
            s,
            int(m.wrk.rps),
            fix(m.wrk.p50Ms),
            fix(m.wrk.p99Ms),
            fix(m.cpuUsPerReq, 0),
            mib(m.rssKb),
            mib(m.pssKb),
            ratio(m.wrk.rps, base?.wrk.rps),
            m.wrk.errors,
          ];
        });
        sections.push(
          `### ${app.name === "hello" ? "hello app" : "Django template view"}, wrk -t1 -c${c}\n\n` +
            mdTable(
              [
                "setup",
                "req/s:",
                "p50 ms:",
                "p99 ms:",
                "CPU µs/req (all):",
                "RSS MiB (all):",
                "PSS MiB (all):",
                "vs nginx+gunicorn:",
                "wrk errors",
              ],
              rows,
            ),
        );
        const prox = get("narwhal+gunicorn");
        const one = get("narwhal one-process");
        const verdict = (ok: boolean | undefined): string =>
          ok === undefined ? "not measured" : ok ? "**met**" : "**missed**";
        targets.push(
          `- ${app.name} -c${c}: narwhal's proxy ≥ 0.8x nginx (${ratio(prox?.wrk.rps, base?.wrk.rps)}): ${verdict(prox && base && prox.wrk.rps >= 0.8 * base.wrk.rps)}`,
        );
        const want = app.name === "hello" ? 5 : 1.4;
        targets.push(
          `- ${app.name} -c${c}: one-process ≥ ${want}x the article's stack (${ratio(one?.wrk.rps, base?.wrk.rps)}): ${verdict(one && base ? one.wrk.rps >= want * base.wrk.rps : undefined)}`,
        );
      }
    }
    const md =
      `- ${startedAt} (at start); load average at the end ${machineLine().split("load average ")[1]}\n` +
      `- wrk -t1, ${duration} s per measurement after a ${warmup} s warm-up, ${rounds} round(s) (median-req/s run shown); ` +
      `Gunicorn sync -w ${workers} behind both fronts (the same instance); nginx worker_processes ${nginxWorkers}; one-process: ${workers} workers\n` +
      `- narwhal ${narwhal.note}; ${versionOf("nginx", ["-v"])}; ${versionOf(PYTHON, ["-m", "gunicorn", "--version"])}\n` +
      `- CPU, RSS, PSS: the front's process tree plus Gunicorn's\n` +
      (notes.length > 0 ? notes.map((n) => `- ${n}\n`).join("") : "") +
      `\n${sections.join("\n\n")}\n\n#### Targets (issue 6)\n\n${targets.join("\n")}\n`;
    process.stdout.write(md);
    if (argv.includes("--write"))
      writeFileSync(
        join(REPO, "bench", "deploy", "RESULTS.md"),
        `# The article's deployment: nginx + Gunicorn vs narwhal\n\nProduced by \`npx tsx bench/deploy/run.ts ${argv.join(" ")}\`.\n\n${md}`,
      );
  } finally {
    work.remove();
  }
}

await main();
