/**
 * WSGI benchmark (issue 3; not in CI): narwhal vs Gunicorn sync, Gunicorn gthread
 * (--threads 8) and uWSGI (--http-socket), equal worker counts, in one run on loopback:
 * the hello app at -c64 and -c256, and the Django lifecycle project's template view.
 * Reports req/s, p50/p99 (wrk --latency), CPU µs per request and RSS/PSS of each server's
 * whole process tree, ratios vs Gunicorn sync and vs uWSGI, and the targets.
 *
 *   npx tsx bench/wsgi/run.ts [--quick] [--write] [--only narwhal,uwsgi] [--apps hello,django]
 *
 * Environment: BENCH_DURATION (s, default 8), BENCH_WARMUP (s, 2), BENCH_ROUNDS (1; the
 * table shows the median of the rounds, server order rotated each round), BENCH_WORKERS (2),
 * BENCH_CONNS (hello, "64,256"), BENCH_DJANGO_CONNS ("64"), BENCH_PYTHON (interpreter for
 * narwhal and Gunicorn; default .venv/bin/python), BENCH_NARWHAL=repo (use dist/ as is),
 * BENCH_CPU_PROF=DIR (run narwhal under node --cpu-prof, profiles into DIR).
 * --quick: 3 s runs, 1 s warm-up, -c64 only. --write: also save bench/wsgi/RESULTS.md.
 */
import { writeFileSync } from "node:fs";
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
import { freePort, startServer } from "../lib/server.js";
import {
  djangoApp,
  helloApp,
  serverSpec,
  SERVER_NAMES,
  type App,
  type ServerName,
} from "./servers.js";

const argv = process.argv.slice(2);
const flag = (n: string): string | undefined => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes("--quick");
const duration = envNumber("BENCH_DURATION", quick ? 3 : 8);
const warmup = envNumber("BENCH_WARMUP", quick ? 1 : 2);
const rounds = Math.max(1, envNumber("BENCH_ROUNDS", 1));
const workers = envNumber("BENCH_WORKERS", 2);
const helloConns = (process.env["BENCH_CONNS"] ?? (quick ? "64" : "64,256")).split(",").map(Number);
const djangoConns = (process.env["BENCH_DJANGO_CONNS"] ?? "64").split(",").map(Number);
const only = (flag("--only")?.split(",") ?? SERVER_NAMES) as ServerName[];
const apps = flag("--apps")?.split(",") ?? ["hello", "django"];
const cpuProf = process.env["BENCH_CPU_PROF"];

interface Cell {
  app: string;
  conns: number;
  server: ServerName;
  runs: Measurement[];
}

const work = scratch("wsgi");
const log = (s: string): void => void process.stderr.write(s + "\n");
const cells = new Map<string, Cell>();
const key = (app: string, conns: number, server: string): string => `${app}/${conns}/${server}`;

async function main(): Promise<void> {
  const startedAt = machineLine();
  log(`building narwhal...`);
  const narwhal = narwhalCommand(work.dir);
  log(`narwhal: ${narwhal.note}`);
  const appList: App[] = [];
  if (apps.includes("hello")) appList.push(helloApp());
  if (apps.includes("django"))
    appList.push(djangoApp(prepareDjango(join(work.dir, "django"), false)));
  const order = only.filter((s) => SERVER_NAMES.includes(s));

  for (let round = 0; round < rounds; round++) {
    // Rotate the order so that a drift in machine load does not always hit the same server.
    const servers = order.map((_, i) => order[(i + round) % order.length]!);
    for (const app of appList) {
      const connsList = app.name === "hello" ? helloConns : djangoConns;
      for (const name of servers) {
        const port = await freePort();
        const spec = serverSpec(name, app, {
          workers,
          port,
          logFile: join(work.dir, `${name}-${app.name}.log`),
          narwhal,
          nodeFlags: cpuProf ? ["--cpu-prof", "--cpu-prof-dir", cpuProf] : [],
        });
        const srv = await startServer({ ...spec, cwd: app.dir });
        try {
          for (const conns of connsList) {
            const m = measure(srv, {
              path: app.path,
              conns,
              seconds: duration,
              warmupSeconds: warmup,
            });
            const k = key(app.name, conns, name);
            const cell = cells.get(k) ?? { app: app.name, conns, server: name, runs: [] };
            cell.runs.push(m);
            cells.set(k, cell);
            log(
              `[${round + 1}/${rounds}] ${app.name} -c${conns} ${name}: ${int(m.wrk.rps)} req/s, ` +
                `p50 ${fix(m.wrk.p50Ms)} ms, p99 ${fix(m.wrk.p99Ms)} ms, ${fix(m.cpuUsPerReq, 0)} µs CPU/req ` +
                `(${fix(m.cores)} cores), RSS ${mib(m.rssKb)} MiB in ${m.processes} processes ${m.wrk.errors}`,
            );
          }
        } finally {
          await srv.stop();
        }
      }
    }
  }
  report(startedAt, narwhal.note);
}

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  rss: number;
  pss: number;
  errors: string;
}

function summary(c: Cell | undefined): Summary | undefined {
  if (c === undefined) return undefined;
  const med = (f: (m: Measurement) => number): number => median(c.runs.map(f));
  return {
    rps: med((m) => m.wrk.rps),
    p50: med((m) => m.wrk.p50Ms),
    p99: med((m) => m.wrk.p99Ms),
    cpu: med((m) => m.cpuUsPerReq),
    rss: med((m) => m.rssKb),
    pss: med((m) => m.pssKb),
    errors: errorSummary(c.runs),
  };
}

/** Median counts per kind of wrk error over the rounds; "" when all are zero. */
function errorSummary(runs: readonly Measurement[]): string {
  const counts: [string, (m: Measurement) => number][] = [
    ["socket", (m) => m.wrk.socketErrors - m.wrk.timeouts],
    ["timeout", (m) => m.wrk.timeouts],
    ["non-2xx", (m) => m.wrk.non2xx],
  ];
  return counts
    .map(([k, f]) => [k, median(runs.map(f))] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${int(n)}`)
    .join(", ");
}

function report(startedAt: string, narwhalNote: string): void {
  const sections: string[] = [];
  const targets: string[] = [];
  const workloads = [...new Set([...cells.values()].map((c) => `${c.app}/${c.conns}`))];
  for (const wl of workloads) {
    const [app, c] = wl.split("/") as [string, string];
    const conns = Number(c);
    const get = (s: ServerName): Summary | undefined => summary(cells.get(key(app, conns, s)));
    const sync = get("gunicorn-sync");
    const uw = get("uwsgi");
    const rows = order().map((s) => {
      const r = get(s)!;
      return [
        s,
        int(r.rps),
        fix(r.p50),
        fix(r.p99),
        fix(r.cpu, 0),
        mib(r.rss),
        mib(r.pss),
        ratio(r.rps, sync?.rps),
        ratio(r.rps, uw?.rps),
        r.errors === "" ? "" : r.errors,
      ];
    });
    sections.push(
      `### ${app === "hello" ? "hello app" : "Django template view"}, wrk -t1 -c${conns}\n\n` +
        mdTable(
          [
            "server",
            "req/s:",
            "p50 ms:",
            "p99 ms:",
            "CPU µs/req:",
            "RSS MiB:",
            "PSS MiB:",
            "vs Gunicorn sync:",
            "vs uWSGI:",
            "wrk errors",
          ],
          rows,
        ),
    );
    const n = get("narwhal");
    if (n === undefined) continue;
    const check = (what: string, ok: boolean | undefined): void => {
      targets.push(
        `- ${app} -c${conns}: ${what}: ${ok === undefined ? "not measured" : ok ? "**met**" : "**missed**"}`,
      );
    };
    if (app === "hello") {
      check(`≥ 4x Gunicorn sync req/s (${ratio(n.rps, sync?.rps)})`, sync && n.rps >= 4 * sync.rps);
      check(`≥ 1x uWSGI req/s (${ratio(n.rps, uw?.rps)})`, uw && n.rps >= uw.rps);
    } else {
      check(
        `≥ 1.3x Gunicorn sync req/s (${ratio(n.rps, sync?.rps)})`,
        sync && n.rps >= 1.3 * sync.rps,
      );
    }
    const gth = get("gunicorn-gthread");
    check(
      `p99 not worse than Gunicorn sync (${fix(n.p99)} vs ${fix(sync?.p99 ?? NaN)} ms)`,
      sync && n.p99 <= sync.p99,
    );
    check(
      `p99 not worse than Gunicorn gthread (${fix(n.p99)} vs ${fix(gth?.p99 ?? NaN)} ms)`,
      gth && n.p99 <= gth.p99,
    );
  }
  const md =
    `- ${startedAt} (at start); load average at the end ${machineLine().split("load average ")[1]}\n` +
    `- wrk -t1, ${duration} s per measurement after a ${warmup} s warm-up, ${rounds} round(s) (median shown), ` +
    `${workers} workers each, loopback, everything (wrk included) on the same CPUs\n` +
    `- narwhal ${narwhalNote}; ${versionOf(PYTHON, ["-m", "gunicorn", "--version"])}; ` +
    `${versionOf("uwsgi", ["--version"]).replace(/^/, "uWSGI ")}; ${versionOf("wrk", ["-v"]).split(" [")[0]}; ` +
    `Python for narwhal/Gunicorn: ${versionOf(PYTHON, ["-V"])} (${PYTHON.replace(REPO + "/", "")}); uWSGI embeds Debian's ${versionOf("/usr/bin/python3", ["-V"])}\n` +
    `- CPU µs/req: utime+stime of the server's whole process tree over the measured window / requests; ` +
    `RSS and PSS: sums over the tree from /proc/PID/smaps_rollup right after the load\n\n` +
    sections.join("\n\n") +
    `\n\n#### Targets (issue 3)\n\n${targets.join("\n")}\n`;
  process.stdout.write(md);
  if (argv.includes("--write")) {
    writeFileSync(
      join(REPO, "bench", "wsgi", "RESULTS.md"),
      `# WSGI servers: narwhal vs Gunicorn vs uWSGI\n\nProduced by \`npx tsx bench/wsgi/run.ts ${argv.join(" ")}\`.\n\n${md}`,
    );
  }
}

function order(): ServerName[] {
  return only.filter((s) => SERVER_NAMES.includes(s));
}

try {
  await main();
} finally {
  work.remove();
}
