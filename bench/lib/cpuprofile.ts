/**
 * Summarise a V8 .cpuprofile (node --cpu-prof; bench/wsgi/run.ts with BENCH_CPU_PROF=DIR):
 * where the time goes, by file and by function, self and inclusive.
 *
 *   npx tsx bench/lib/cpuprofile.ts DIR/CPU.*.cpuprofile [--top 30] [--callers NAME]
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const short = (url: string): string =>
  url.replace(/^file:\/\//, "").replace(/.*\/(dist|node_modules)\//, "$1/");
const label = (cf: CallFrame): string =>
  `${cf.functionName || "(anonymous)"} ${short(cf.url)}${cf.url ? ":" + String(cf.lineNumber + 1) : ""}`;

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  selfByFile: [string, number][];
  selfByFunction: [string, number][];
  inclusive: [string, number][];
}

export function summarise(p: Profile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    total += d;
    self.set(id, (self.get(id) ?? 0) + d);
  });
  const add = (m: Map<string, number>, k: string, v: number): void =>
    void m.set(k, (m.get(k) ?? 0) + v);
  const byFile = new Map<string, number>();
  const byFn = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, t] of self) {
    const cf = byId.get(id)!.callFrame;
    add(byFile, cf.url ? short(cf.url) : cf.functionName, t);
    add(byFn, label(cf), t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!.callFrame);
      if (!seen.has(k)) {
        seen.add(k);
        add(incl, k, t);
      }
    }
  }
  const sorted = (m: Map<string, number>): [string, number][] =>
    [...m].map(([k, v]): [string, number] => [k, v / 1000]).sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total / 1000,
    idleMs: (byFile.get("(idle)") ?? 0) / 1000,
    selfByFile: sorted(byFile),
    selfByFunction: sorted(byFn),
    inclusive: sorted(incl),
  };
}

/** Call chains (5 frames up) into functions whose label contains `needle`, by inclusive time. */
export function callers(p: Profile, needle: string): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => void self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const inclOf = (id: number): number =>
    (self.get(id) ?? 0) + (byId.get(id)!.children ?? []).reduce((a, c) => a + inclOf(c), 0);
  const out = new Map<string, number>();
  for (const n of p.nodes) {
    if (!label(n.callFrame).includes(needle)) continue;
    const chain: string[] = [];
    for (let cur = parent.get(n.id); cur !== undefined && chain.length < 5; cur = parent.get(cur))
      chain.push(label(byId.get(cur)!.callFrame));
    const k = chain.join(" < ");
    out.set(k, (out.get(k) ?? 0) + inclOf(n.id) / 1000);
  }
  return [...out].sort((a, b) => b[1] - a[1]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const file = argv[0];
  if (file === undefined) {
    process.stderr.write(
      "usage: tsx bench/lib/cpuprofile.ts FILE.cpuprofile [--top N] [--callers NAME]\n",
    );
    process.exit(2);
  }
  const i = argv.indexOf("--top");
  const top = i >= 0 ? Number(argv[i + 1]) : 30;
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const c = argv.indexOf("--callers");
  const fmt = (rows: [string, number][], total: number): string =>
    rows
      .slice(0, top)
      .map(
        ([k, v]) =>
          `${v.toFixed(0).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join("\n");
  if (c >= 0) {
    const rows = callers(p, argv[c + 1] ?? "").slice(0, top);
    process.stdout.write(
      rows.map(([k, v]) => `${v.toFixed(0).padStart(8)} ms  ${k}`).join("\n") + "\n",
    );
  } else {
    const s = summarise(p);
    const busy = s.totalMs - s.idleMs;
    process.stdout.write(
      `total ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms (percentages of busy)\n` +
        `== self time by file\n${fmt(
          s.selfByFile.filter(([k]) => k !== "(idle)"),
          busy,
        )}\n` +
        `== self time by function\n${fmt(
          s.selfByFunction.filter(([k]) => !k.startsWith("(idle)")),
          busy,
        )}\n` +
        `== inclusive\n${fmt(
          s.inclusive.filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(root)")),
          busy,
        )}\n`,
    );
  }
}
