/**
 * The shared HTTP/1.x request corpus (../shared/corpus/http1-requests, from Gunicorn's
 * test suite): loading, piece splitting, and the settings each case needs.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { Settings } from "../../src/config/resolved.js";
import { settingByName } from "../../src/config/settings.js";
import type { SettingValue } from "../../src/config/setting-types.js";

export interface ExpectedRequest {
  method: string;
  target: string;
  target_form: "origin" | "absolute" | "authority" | "asterisk";
  path: string | null;
  query: string;
  fragment: string;
  version: [number, number];
  headers: Array<[string, string]>;
  body_base64: string;
  trailers?: Array<[string, string]>;
  http11_without_host?: boolean;
}

export interface Alternative {
  status?: number;
  outcome?: "processed" | "processed_then_close" | "closed_without_response";
  why?: string;
}

export interface CorpusCase {
  name: string;
  kind: "valid" | "invalid";
  raw: Buffer;
  settings: Record<string, SettingValue>;
  expect: ExpectedRequest[];
  expect_error?: string;
  expect_status?: number | null;
  requires_eof?: boolean;
  also_acceptable: Alternative[];
}

export function corpusDir(): string {
  return join(repoRoot(), "..", "shared", "corpus", "http1-requests");
}

export function loadCorpus(): CorpusCase[] {
  const dir = corpusDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith("gunicorn-") && f.endsWith(".json"))
    .sort()
    .map((f) => {
      const d = JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown> & {
        raw_base64: string;
        settings?: Record<string, SettingValue>;
        expect?: ExpectedRequest[];
        also_acceptable?: Alternative[];
      };
      const c: CorpusCase = {
        name: d["name"] as string,
        kind: d["kind"] as "valid" | "invalid",
        raw: Buffer.from(d.raw_base64, "base64"),
        settings: d.settings ?? {},
        expect: d.expect ?? [],
        also_acceptable: d.also_acceptable ?? [],
      };
      if (typeof d["expect_error"] === "string") c.expect_error = d["expect_error"];
      if (d["expect_status"] !== undefined) c.expect_status = d["expect_status"] as number | null;
      if (d["requires_eof"] === true) c.requires_eof = true;
      return c;
    });
}

/** The case's settings as our Settings, or null when one has no equivalent here (→ skipped). */
export function caseSettings(c: CorpusCase): Settings | null {
  for (const k of Object.keys(c.settings)) if (settingByName(k) === undefined) return null;
  return new Settings().with(c.settings);
}

/** A stable key per distinct settings set (one server per key). */
export function settingsKey(c: CorpusCase): string {
  return JSON.stringify(Object.entries(c.settings).sort(([a], [b]) => a.localeCompare(b)));
}

export type SplitMode = "whole" | "bytes" | "random";
export const SPLIT_MODES: readonly SplitMode[] = ["whole", "bytes", "random"];

/** A tiny deterministic PRNG (mulberry32) so random splits are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Split the raw octets: whole, one octet at a time, or random 1-16 octet pieces seeded by the case name. */
export function split(raw: Buffer, mode: SplitMode, name: string): Buffer[] {
  if (mode === "whole") return [raw];
  const out: Buffer[] = [];
  if (mode === "bytes") {
    for (let i = 0; i < raw.length; i++) out.push(raw.subarray(i, i + 1));
    return out;
  }
  const rnd = prng(seedOf(name));
  for (let i = 0; i < raw.length;) {
    const n = 1 + Math.floor(rnd() * 16);
    out.push(raw.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** WSGI environ key of a header name as the corpus spells it (upper case). */
export function environKey(name: string): string {
  const up = name.toUpperCase();
  if (up === "CONTENT-TYPE") return "CONTENT_TYPE";
  if (up === "CONTENT-LENGTH") return "CONTENT_LENGTH";
  return "HTTP_" + up.replace(/-/g, "_");
}
