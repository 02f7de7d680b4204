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

test("HTTP/1.1 corpus over sockets (in-process echo app)", { skip: cases.length === 0 ? "corpus not found" : false }, async () => {
  const results = await runCorpus(startInProcessEcho, cases, SPLIT_MODES);
  const count = (v: string): number => results.filter((r) => r.verdict === v).length;
  if (process.env["CORPUS_VERBOSE"]) {
    for (const r of results) console.log(`${r.verdict.padEnd(8)} ${r.name} [${r.mode}] ${r.why}`);
  }
  console.log(`# corpus over sockets: pass ${count("pass")}, alt-pass ${count("alt-pass")}, fail ${count("fail")}, skipped ${count("skipped")}`);
  const fails = results.filter((r) => r.verdict === "fail");
  assert.equal(fails.length, 0, fails.map((r) => `${r.name} [${r.mode}]: ${r.why}`).join("\n"));
  assert.equal(results.length, cases.length * SPLIT_MODES.length);
});
