/**
 * The HTTP/1.1 request corpus (../shared/corpus/http1-requests) replayed over sockets
 * against the real WSGI path: narwhal's front end, the gateway, a Python worker and the
 * corpus echo app (test/apps/echo.py), checking the environ the app saw as the corpus
 * README says. "The app saw it" = the gateway handed it to a worker.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Lease } from "../../src/arbiter/arbiter.js";
import type { RequestSink } from "../../src/arbiter/worker.js";
import { Arbiter } from "../../src/arbiter/arbiter.js";
import { workerSpec } from "../../src/arbiter/command.js";
import { Logger } from "../../src/core/log.js";
import { createWsgiHandler } from "../../src/gateway/handler.js";
import { limitsFromSettings } from "../../src/http/limits.js";
import { HttpServer } from "../../src/http/server.js";
import { loadCorpus, SPLIT_MODES } from "../corpus/cases.js";
import type { StartServer } from "../corpus/echo.js";
import { runCorpus } from "../corpus/runner.js";
import { APPS, CaptureSink, PYTHON } from "./harness.js";

const startPythonEcho: StartServer = async (settings) => {
  const sink = new CaptureSink();
  const log = new Logger(sink, "warning");
  const arbiter = new Arbiter({
    spec: workerSpec({
      python: PYTHON,
      app: "echo:app",
      threads: 4,
      chdir: APPS,
      pythonpath: null,
      rawEnv: [],
    }),
    workers: 1,
    maxQueue: 64,
    log,
    output: (line) => {
      sink.write(line);
    },
  });
  await arbiter.start();
  let dispatched = 0;
  const pool = {
    dispatch: async (sink: RequestSink, signal?: AbortSignal): Promise<Lease> => {
      const lease = await arbiter.dispatch(sink, signal);
      dispatched++;
      return lease;
    },
  };
  const server = new HttpServer({
    handler: createWsgiHandler({ pool, log, bodyBufferSize: 1 << 20 }),
    logger: log,
    limits: limitsFromSettings(settings),
  });
  await server.listen(["127.0.0.1:0"]);
  return {
    port: server.address()[0]!.port,
    appRequests: () => dispatched,
    stop: async () => {
      await server.drain(200);
      await arbiter.stop(false);
    },
  };
};

const cases = loadCorpus();

void test(
  "HTTP/1.1 corpus through a Python worker and the echo app",
  { skip: cases.length === 0 ? "corpus not found" : false },
  async () => {
    const results = await runCorpus(startPythonEcho, cases, SPLIT_MODES);
    const count = (v: string): number => results.filter((r) => r.verdict === v).length;
    if (process.env["CORPUS_VERBOSE"]) {
      for (const r of results) console.log(`${r.verdict.padEnd(8)} ${r.name} [${r.mode}] ${r.why}`);
    }
    console.log(
      `# corpus through Python: pass ${count("pass")}, alt-pass ${count("alt-pass")}, fail ${count("fail")}, skipped ${count("skipped")}`,
    );
    const fails = results.filter((r) => r.verdict === "fail");
    assert.equal(fails.length, 0, fails.map((r) => `${r.name} [${r.mode}]: ${r.why}`).join("\n"));
    assert.equal(results.length, cases.length * SPLIT_MODES.length);
  },
);
