/**
 * Shared pieces of every benchmark's report: the machine line (date, CPUs, load
 * average, versions), number formatting, ratios and markdown tables.
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { loadAverage } from "./proctree.js";

/** First line of `cmd args` (stdout or stderr), or "cmd: not found". */
export function versionOf(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, [...args], { encoding: "utf8", timeout: 10_000 });
  if (r.error !== undefined) return `${cmd}: not found`;
  return ((r.stdout ?? "") + (r.stderr ?? "")).trim().split("\n")[0] ?? "";
}

export function machineLine(): string {
  const c = cpus();
  return (
    `${new Date().toISOString().replace(/\.\d+Z$/, "Z")}, ${c.length} × ${c[0]?.model.trim() ?? "?"}, ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadAverage()}`
  );
}

export const int = (n: number): string =>
  Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
export const fix = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : "–");
export const mib = (kb: number): string => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : "–");

/** "4.12x", or "–" when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return "–";
  return `${(a / b).toFixed(2)}x`;
}

/** A markdown table; columns whose header ends in ":" are right-aligned (the ":" is dropped). */
export function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const h = headers.map((x) => (x.endsWith(":") ? x.slice(0, -1) : x));
  const align = headers.map((x) => (x.endsWith(":") ? "---:" : "---"));
  return [h, align, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** Median of the finite values (NaN when none). */
export function median(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Integer from the environment, with a default. */
export function envNumber(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: expected a number`);
  return n;
}
