/**
 * --preload memory benchmark (issue 4; not in CI): RSS and PSS of 4 Django workers with
 * and without --preload, for narwhal (a zygote imports the app once and forks the
 * workers) and for Gunicorn (the master imports it and forks) as a reference.
 *
 *   npx tsx bench/wsgi/preload.ts [--write] [--quick]
 *
 * Each server serves the lifecycle template view; a short wrk load (BENCH_WARMUP s,
 * default 3, -c16) makes every worker render it before memory is read, so the numbers
 * include what a serving worker holds. "Workers" are the leaves of the process tree;
 * the rest (narwhal's Node process and its zygote, Gunicorn's master) is the supervisor.
 * Environment: BENCH_WORKERS (4), BENCH_PYTHON, BENCH_NARWHAL, BENCH_KEEP as run.ts.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { narwhalCommand, prepareDjango, REPO, scratch } from "../lib/env.js";
import { leaves, treeMemory } from "../lib/proctree.js";
import { envNumber, fix, machineLine, mdTable, mib, ratio } from "../lib/report.js";
import { freePort, startServer } from "../lib/server.js";
import { runWrk } from "../lib/wrk.js";
import { djangoApp, serverSpec } from "./servers.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const workers = envNumber("BENCH_WORKERS", 4);
const warmup = envNumber("BENCH_WARMUP", quick ? 1 : 3);
const log = (s: string): void => void process.stderr.write(s + "\n");

interface Row {
  label: string;
  processes: number;
  workers: number;
  workerRssKb: number;
  workerPssKb: number;
  treeRssKb: number;
  treePssKb: number;
  perWorkerPssKb: number;
  note: string;
}

async function main(): Promise<void> {
  const work = scratch("preload");
  try {
    const startedAt = machineLine();
    log("building narwhal...");
    const narwhal = narwhalCommand(work.dir);
    const app = djangoApp(prepareDjango(join(work.dir, "django"), false));
    const rows: Row[] = [];
    for (const server of ["narwhal", "gunicorn-sync"] as const) {
      for (const preload of [false, true]) {
        const port = await freePort();
        const spec = serverSpec(server, app, {
          workers,
          port,
          logFile: join(work.dir, `${server}-${preload}.log`),
          narwhal,
        });
        const s = await startServer({
          ...spec,
          args: [...spec.args, ...(preload ? ["--preload"] : [])],
          cwd: app.dir,
        });
        try {
          runWrk({ url: `http://127.0.0.1:${port}${app.path}`, conns: 16, seconds: warmup });
          await new Promise((r) => setTimeout(r, 500));
          const pids = s.pids();
          const ws = leaves(pids).filter((p) => p !== s.pid);
          const wm = treeMemory(ws);
          const tm = treeMemory(pids);
          const label = `${server === "narwhal" ? "narwhal" : "Gunicorn sync"} ${preload ? "--preload" : "(no preload)"}`;
          const supervisors = tm.each
            .filter((e) => !ws.includes(e.pid))
            .map((e) => `${e.comm} ${mib(e.rssKb)}/${mib(e.pssKb)}`);
          const row: Row = {
            label,
            processes: tm.processes,
            workers: wm.processes,
            workerRssKb: wm.rssKb,
            workerPssKb: wm.pssKb,
            treeRssKb: tm.rssKb,
            treePssKb: tm.pssKb,
            perWorkerPssKb: wm.processes > 0 ? wm.pssKb / wm.processes : NaN,
            note: `supervisor RSS/PSS MiB: ${supervisors.join(", ")}`,
          };
          if (server === "narwhal" && preload && tm.processes === 1 + workers)
            row.note += "; no zygote in the tree: --preload looks ignored";
          rows.push(row);
          log(
            `${label}: workers RSS ${mib(wm.rssKb)} MiB PSS ${mib(wm.pssKb)} MiB; tree RSS ${mib(tm.rssKb)} PSS ${mib(tm.pssKb)} (${tm.processes} processes)`,
          );
        } finally {
          await s.stop();
        }
      }
    }
    const base = (r: Row): Row | undefined =>
      rows.find(
        (x) => x.label.split(" ")[0] === r.label.split(" ")[0] && x.label.endsWith("(no preload)"),
      );
    const md =
      `- ${startedAt}; ${workers} workers, Django lifecycle template view, after ${warmup} s of wrk -c16\n\n` +
      mdTable(
        [
          "server",
          "processes:",
          "workers RSS MiB:",
          "workers PSS MiB:",
          "PSS per worker MiB:",
          "tree RSS MiB:",
          "tree PSS MiB:",
          "tree PSS vs no preload:",
          "notes",
        ],
        rows.map((r) => [
          r.label,
          String(r.processes),
          mib(r.workerRssKb),
          mib(r.workerPssKb),
          mib(r.perWorkerPssKb),
          mib(r.treeRssKb),
          mib(r.treePssKb),
          ratio(r.treePssKb, base(r)?.treePssKb),
          r.note,
        ]),
      ) +
      `\n\nPSS divides each shared page among the processes sharing it, so the tree's PSS is its real footprint; ` +
      `RSS counts shared pages once per process. Saved by preload (tree PSS): ` +
      ["narwhal", "Gunicorn"]
        .map((n) => {
          const a = rows.find((r) => r.label.startsWith(n) && r.label.endsWith("(no preload)"));
          const b = rows.find((r) => r.label.startsWith(n) && r.label.endsWith("--preload"));
          return `${n} ${a && b ? fix((a.treePssKb - b.treePssKb) / 1024, 1) + " MiB" : "–"}`;
        })
        .join(", ") +
      `.\n`;
    process.stdout.write(md);
    if (argv.includes("--write"))
      writeFileSync(
        join(REPO, "bench", "wsgi", "PRELOAD.md"),
        `# --preload: memory of ${workers} Django workers\n\nProduced by \`npx tsx bench/wsgi/preload.ts ${argv.join(" ")}\`.\n\n${md}`,
      );
  } finally {
    work.remove();
  }
}

await main();
