/**
 * Keeps the architecture honest: each src/ module imports only what sits below it
 * (see ../shared/STYLE.md). Only src/main.ts and the serve-* composition files wire
 * the layers together.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname, sep } from "node:path";
import { repoRoot } from "../../src/core/paths.js";

/** module → modules it may import (besides itself). "version" is src/version.ts. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  version: ["core"],
  router: ["core"],
  config: ["core", "router", "version"],
  protocol: ["core"],
  http: ["core", "config"],
  static: ["core", "http"],
  proxy: ["core", "http"],
  arbiter: ["core", "config", "protocol"],
  gateway: ["core", "http", "protocol", "arbiter"],
  site: ["core", "config", "router", "http", "static", "proxy", "arbiter", "gateway", "version"],
};

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

function moduleOf(srcDir: string, file: string): string {
  const rel = relative(srcDir, file).split(sep);
  if (rel.length === 1) return rel[0]!.replace(/\.ts$/, "");
  return rel[0]!;
}

void test("every src/ module imports only the layers below it", () => {
  const src = join(repoRoot(), "src");
  const violations: string[] = [];
  for (const file of walk(src)) {
    const from = moduleOf(src, file);
    const allowed = ALLOWED[from];
    if (allowed === undefined) continue; // composition roots: main.ts, serve-*.ts
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(src + sep)) continue;
      const to = moduleOf(src, target.replace(/\.js$/, ".ts"));
      if (to !== from && !allowed.includes(to)) {
        violations.push(`${relative(src, file)} imports ${to} (${m[1]!})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

void test("the layering table names every folder under src/", () => {
  const src = join(repoRoot(), "src");
  const folders = readdirSync(src).filter((n) => statSync(join(src, n)).isDirectory());
  assert.deepEqual(
    folders.filter((f) => !(f in ALLOWED)),
    [],
  );
});
