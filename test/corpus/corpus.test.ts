/**
 * Every corpus case over real loopback sockets against the server with the in-process
 * echo app: whole, one octet at a time, and in seeded random 1-16 octet pieces.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadCorpus, SPLIT_MODES } from "./cases.js";
import { startInProcessEcho } from "./echo.js";
import { runCorpus } from "./runner.js";

const cases = loadCorpus();

void test(
  "HTTP/1.1 corpus over sockets (in-process echo app)",
  { skip: cases.length === 0 ? "corpus not found" : false },
  async () => {
    const results = await runCorpus(startInProcessEcho, cases, SPLIT_MODES);
    const count = (v: string): number => results.filter((r) => r.verdict === v).length;
    // One line per case: the verdict of each split mode, and why when not a plain pass.
    const byCase = new Map<string, string[]>();
    for (const r of results) {
      const l = byCase.get(r.name) ?? [];
      l.push(
        `${r.mode}=${r.verdict}${r.why && (process.env["CORPUS_VERBOSE"] || r.verdict === "fail") ? ` (${r.why})` : ""}`,
      );
      byCase.set(r.name, l);
    }
    const alt = (name: string): string =>
      results.find((r) => r.name === name && r.verdict === "alt-pass")?.why ?? "";
    for (const [name, l] of [...byCase].sort(([a], [b]) => a.localeCompare(b)))
      console.log(`${name}: ${l.join(" ")}${alt(name) ? ` — ${alt(name)}` : ""}`);
    console.log(
      `# corpus over sockets: pass ${count("pass")}, alt-pass ${count("alt-pass")}, fail ${count("fail")}, skipped ${count("skipped")}`,
    );
    const fails = results.filter((r) => r.verdict === "fail");
    assert.equal(fails.length, 0, fails.map((r) => `${r.name} [${r.mode}]: ${r.why}`).join("\n"));
    assert.equal(results.length, cases.length * SPLIT_MODES.length);
  },
);
