/**
 * HTTP/1.1 front-end benchmark (not run in CI): the same in-process "Hello, World!"
 * handler behind narwhal's HttpServer and behind plain node:http, each in its own
 * process, loaded by wrk on loopback. Reports req/s, p50/p99 latency and server CPU µs
 * per request (utime+stime from /proc/<pid>/stat), and the ratio.
 *
 *   npx tsx bench/http/run.ts [--duration 8] [--conns 64,256] [--rounds 3] [--write]
 *
 * Each configuration runs `rounds` times, alternating the two servers, and the median of
 * each metric is reported (the machine is shared, so single runs are noisy).
 * --write puts the table into bench/http/RESULTS.md. Needs wrk (apt-get install wrk).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { cpus } from "node:os";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const duration = Number(opt("--duration", "8"));
const rounds = Number(opt("--rounds", "3"));
const conns = opt("--conns", "64,256").split(",").map(Number);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

interface Result {
  server: string;
  conns: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  cpuUsPerReq: number;
  errors: string;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

async function startServer(kind: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "serve.ts"), kind], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (c) => {
      reject(new Error(`server exited ${c}`));
    });
    setTimeout(() => {
      reject(new Error("server did not start"));
    }, 20_000);
  });
  return { child, port };
}

function wrk(port: number, c: number, secs: number): string {
  return execFileSync(
    "wrk",
    ["-t1", `-c${c}`, `-d${secs}s`, "--latency", `http://127.0.0.1:${port}/`],
    {
      encoding: "utf8",
      timeout: (secs + 30) * 1000,
    },
  );
}

async function measure(kind: string, c: number): Promise<Result> {
  const { child, port } = await startServer(kind);
  try {
    wrk(port, c, 2); // warm-up: JIT, connection setup
    const before = cpuTicks(child.pid!);
    const out = wrk(port, c, duration);
    const after = cpuTicks(child.pid!);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
    const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
    const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
    const errors = /Socket errors:.*|Non-2xx.*/.exec(out)?.[0] ?? "";
    const cpuUs = ((after - before) / CLK_TCK) * 1e6;
    return {
      server: kind === "ours" ? "narwhal HttpServer" : "node:http",
      conns: c,
      rps,
      p50ms: p50,
      p99ms: p99,
      requests,
      cpuUsPerReq: cpuUs / requests,
      errors,
    };
  } finally {
    child.kill("SIGKILL");
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const results: Result[] = [];
for (const c of conns) {
  const runs = new Map<string, Result[]>([
    ["ours", []],
    ["node", []],
  ]);
  for (let i = 0; i < rounds; i++) {
    for (const kind of i % 2 === 0 ? ["ours", "node"] : ["node", "ours"]) {
      const r = await measure(kind, c);
      runs.get(kind)!.push(r);
      console.error(
        `${r.server} -c${c}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, ${r.cpuUsPerReq.toFixed(1)} µs CPU/req ${r.errors}`,
      );
    }
  }
  for (const kind of ["ours", "node"]) {
    const rs = runs.get(kind)!;
    results.push({
      server: rs[0]!.server,
      conns: c,
      rps: median(rs.map((r) => r.rps)),
      p50ms: median(rs.map((r) => r.p50ms)),
      p99ms: median(rs.map((r) => r.p99ms)),
      requests: median(rs.map((r) => r.requests)),
      cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
      errors: rs
        .map((r) => r.errors)
        .filter((e) => e !== "")
        .join("; "),
    });
  }
}

const lines = [
  `wrk -t1 -d${duration}s on loopback, median of ${rounds} alternating runs, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), Node ${process.version}, ${new Date().toISOString()}`,
  "",
  "| server | conns | req/s | p50 ms | p99 ms | server CPU µs/req |",
  "|---|---:|---:|---:|---:|---:|",
  ...results.map(
    (r) =>
      `| ${r.server} | ${r.conns} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.cpuUsPerReq.toFixed(1)} |`,
  ),
  "",
  ...conns.map((c) => {
    const a = results.find((r) => r.conns === c && r.server !== "node:http")!;
    const b = results.find((r) => r.conns === c && r.server === "node:http")!;
    return `-c${c}: narwhal/node:http = ${(a.rps / b.rps).toFixed(2)}x req/s, ${(a.cpuUsPerReq / b.cpuUsPerReq).toFixed(2)}x CPU per request`;
  }),
];
console.log(lines.join("\n"));
if (args.includes("--write")) {
  const md = `# HTTP/1.1 front-end benchmark\n\nProduced by \`npx tsx bench/http/run.ts --write\` (not part of CI). Same "Hello, World!" handler, each server in its own process, wrk on the same 2-core machine (so wrk and the server share the CPUs; other load on the machine adds noise).\n\n${lines.join("\n")}\n`;
  writeFileSync(join(here, "RESULTS.md"), md);
}
