// Static file benchmark (not in CI): narwhal vs nginx (Debian, one worker, foreground) vs
// Caddy (`caddy file-server`) on 1 KiB, 100 KiB and 10 MiB files, wrk on loopback.
//
//   apt-get install -y wrk nginx caddy
//   npx tsx bench/static/run.ts [--duration 10] [--only narwhal,nginx] [--write]
//
// Reports req/s, throughput, CPU µs per request (utime+stime of the server's processes
// from /proc over the run) and RSS (VmRSS at the end, VmHWM peak), with ratios vs nginx.
// --write saves the markdown table to bench/static/RESULTS.md.
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  symlinkSync,
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir, cpus } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const args = process.argv.slice(2);
const flag = (name: string): string | null => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? null) : null;
};
const duration = Number(flag("--duration") ?? "10");
const only = flag("--only")?.split(",") ?? ["narwhal", "narwhal-site", "nginx", "caddy"];
const write = args.includes("--write");
const TICK_US = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

const SIZES = [
  { name: "1k.bin", label: "1 KiB", bytes: 1024, conns: 50 },
  { name: "100k.bin", label: "100 KiB", bytes: 100 * 1024, conns: 50 },
  { name: "10m.bin", label: "10 MiB", bytes: 10 * 1024 * 1024, conns: 8 },
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => {
        if (a !== null && typeof a === "object") resolve(a.port);
        else reject(new Error("no port"));
      });
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/1k.bin`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on ${port} did not come up`);
}

/** The pid and all its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(...tree(Number(d)));
    } catch {
      // gone
    }
  }
  return out;
}

function cpuTicks(pids: number[]): number {
  let t = 0;
  for (const p of pids) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, "utf8").slice(0).split(") ")[1]!.split(" ");
      t += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return t;
}

function memKb(pids: number[], field: "VmRSS" | "VmHWM"): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${p}/status`, "utf8"));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb;
}

interface WrkResult {
  requests: number;
  rps: number;
  bytesPerSec: number;
  errors: string;
}

function parseBytes(s: string): number {
  const m = /([\d.]+)([KMG]?B)/.exec(s);
  if (m === null) return 0;
  const mult: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
  return Number(m[1]) * (mult[m[2]!] ?? 1);
}

function wrk(url: string, conns: number, secs: number): WrkResult {
  const out = execFileSync("wrk", ["-t1", `-c${conns}`, `-d${secs}s`, url], {
    encoding: "utf8",
    timeout: (secs + 30) * 1000,
  });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const bytesPerSec = parseBytes(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? "0B");
  const err = /Socket errors:.*|Non-2xx or 3xx responses: \d+/g;
  return { requests, rps, bytesPerSec, errors: (out.match(err) ?? []).join("; ") };
}

interface Row {
  server: string;
  size: string;
  rps: number;
  mbps: number;
  cpuUs: number;
  rssMb: number;
  hwmMb: number;
  errors: string;
}

/** tsc into WORK/dist (errors elsewhere in the tree do not stop the emit); tsx as a fallback. */
function buildNarwhal(work: string): string[] {
  const out = join(work, "dist");
  spawnSync(
    process.execPath,
    [
      join(repo, "node_modules/typescript/bin/tsc"),
      "-p",
      join(repo, "tsconfig.json"),
      "--outDir",
      out,
    ],
    {
      stdio: "ignore",
      timeout: 300_000,
    },
  );
  const entry = join(out, "bench/static/server.js");
  if (!existsSync(entry)) return ["--import", "tsx", join(here, "server.ts")];
  symlinkSync(join(repo, "node_modules"), join(out, "node_modules"));
  symlinkSync(join(repo, "conf"), join(out, "conf")); // mime.types for `narwhal -c`
  copyFileSync(join(repo, "package.json"), join(out, "package.json"));
  return [entry];
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 3000);
  await done;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "narwhal-bench-"));
  // nginx's worker runs as `nobody` when started by root: the tree must be world-readable.
  chmodSync(work, 0o755);
  const root = join(work, "www");
  mkdirSync(root);
  for (const s of SIZES) {
    const b = Buffer.alloc(s.bytes);
    for (let i = 0; i < b.length; i++) b[i] = 97 + (i % 26);
    writeFileSync(join(root, s.name), b);
  }
  // Run narwhal from compiled JavaScript (no tsx loader or esbuild child in the measured tree).
  const narwhalEntry = buildNarwhal(work);
  const starters: Record<string, (port: number) => ChildProcess> = {
    narwhal: (port) =>
      spawn(process.execPath, [...narwhalEntry, String(port), root], {
        cwd: repo,
        stdio: ["ignore", "ignore", "inherit"],
      }),
    // The same files from a site config (`narwhal -c`), the deployed path: the site
    // pipeline (server selection, locations, filters) in front of the static handler.
    "narwhal-site": (port) => {
      const conf = join(work, "site.conf");
      writeFileSync(
        conf,
        `server {\n  listen 127.0.0.1:${port};\n  root ${root};\n  access_log off;\n}\n`,
      );
      const tsx = narwhalEntry.length !== 1;
      const main = tsx ? join(repo, "src/main.ts") : join(work, "dist/src/main.js");
      const args = [
        ...(tsx ? ["--import", "tsx"] : []),
        "--input-type=module",
        "-e",
        `import(${JSON.stringify(main)}).then((m) => m.main(process.argv.slice(1)))`,
        "--",
      ];
      return spawn(process.execPath, [...args, "-c", conf], {
        cwd: repo,
        stdio: ["ignore", "ignore", "inherit"],
      });
    },
    nginx: (port) => {
      const p = join(work, "nginx");
      mkdirSync(join(p, "logs"), { recursive: true });
      writeFileSync(
        join(p, "nginx.conf"),
        `daemon off;
worker_processes 1;
error_log ${p}/logs/error.log;
pid ${p}/nginx.pid;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000;
  client_body_temp_path ${p}/tmp_body;
  proxy_temp_path ${p}/tmp_proxy;
  fastcgi_temp_path ${p}/tmp_fcgi;
  uwsgi_temp_path ${p}/tmp_uwsgi;
  scgi_temp_path ${p}/tmp_scgi;
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
      );
      return spawn(
        "nginx",
        ["-p", p, "-c", join(p, "nginx.conf"), "-e", join(p, "logs/error.log")],
        {
          stdio: ["ignore", "ignore", "inherit"],
        },
      );
    },
    caddy: (port) => {
      const p = join(work, "caddy");
      mkdirSync(p, { recursive: true });
      return spawn("caddy", ["file-server", "--root", root, "--listen", `127.0.0.1:${port}`], {
        env: { ...process.env, HOME: p, XDG_DATA_HOME: p, XDG_CONFIG_HOME: p },
        stdio: ["ignore", "ignore", "ignore"],
      });
    },
  };

  const rows: Row[] = [];
  for (const name of only) {
    const start = starters[name];
    if (start === undefined) throw new Error(`unknown server ${name}`);
    const port = await freePort();
    const child = start(port);
    try {
      await waitPort(port, 15_000);
      for (const s of SIZES) {
        const url = `http://127.0.0.1:${port}/${s.name}`;
        wrk(url, s.conns, 2); // warm-up: caches, JIT
        const pids = tree(child.pid!);
        const t0 = cpuTicks(pids);
        const r = wrk(url, s.conns, duration);
        const ticks = cpuTicks(pids) - t0;
        const row: Row = {
          server: name,
          size: s.label,
          rps: r.rps,
          mbps: r.bytesPerSec / 1024 / 1024,
          cpuUs: r.requests > 0 ? (ticks * TICK_US) / r.requests : 0,
          rssMb: memKb(pids, "VmRSS") / 1024,
          hwmMb: memKb(pids, "VmHWM") / 1024,
          errors: r.errors,
        };
        rows.push(row);
        process.stderr.write(
          `${name} ${s.label}: ${row.rps.toFixed(0)} req/s, ${row.mbps.toFixed(1)} MiB/s, ${row.cpuUs.toFixed(1)} µs/req, RSS ${row.rssMb.toFixed(1)} MiB ${row.errors}\n`,
        );
      }
    } finally {
      await stop(child);
    }
  }
  rmSync(work, { recursive: true, force: true });

  const ver = (cmd: string, a: string[]): string => {
    const r = spawnSync(cmd, a, { encoding: "utf8" });
    return ((r.stdout ?? "") + (r.stderr ?? "")).split("\n")[0]!.trim();
  };
  const nginxRow = (size: string) => rows.find((r) => r.server === "nginx" && r.size === size);
  let md = `| server | file | req/s | MiB/s | CPU µs/req | RSS MiB (peak) | req/s vs nginx | MiB/s vs nginx |\n|---|---|---:|---:|---:|---:|---:|---:|\n`;
  for (const r of rows) {
    const n = nginxRow(r.size);
    const ratio = (a: number, b: number | undefined) =>
      b === undefined || b === 0 ? "–" : (a / b).toFixed(2) + "x";
    md += `| ${r.server} | ${r.size} | ${r.rps.toFixed(0)} | ${r.mbps.toFixed(1)} | ${r.cpuUs.toFixed(1)} | ${r.rssMb.toFixed(1)} (${r.hwmMb.toFixed(1)}) | ${ratio(r.rps, n?.rps)} | ${ratio(r.mbps, n?.mbps)} |${r.errors ? " " + r.errors : ""}\n`;
  }
  const env =
    `- ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}\n` +
    `- ${ver("nginx", ["-v"])}; ${ver("caddy", ["version"])}; ${ver("wrk", ["-v"])}\n` +
    `- wrk -t1, ${duration}s per run after a 2 s warm-up; 50 connections (8 for 10 MiB); loopback; keep-alive\n` +
    `- narwhal: one process, HttpServer + staticHandler with the default FileCache; narwhal-site: \`narwhal -c\` with a \`server { root ...; access_log off; }\` site config; nginx: one worker, sendfile on, access_log off; Caddy: \`caddy file-server\` (all cores)\n`;
  process.stdout.write(env + "\n" + md);
  if (write) {
    writeFileSync(
      join(here, "RESULTS.md"),
      `# Static files: narwhal vs nginx vs Caddy\n\nProduced by \`npx tsx bench/static/run.ts --write\`.\n\n${env}\n${md}`,
    );
  }
}

await main();
