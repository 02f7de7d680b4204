/**
 * `--event-loop-sched` / `event_loop_sched` (src/arbiter/sched.ts): with an app pool the
 * master's event loop runs under SCHED_BATCH and every worker, including one started
 * after the switch (which inherits BATCH), runs under SCHED_OTHER; `normal` and a
 * proxy-only config leave the inherited policy alone. Read from /proc, as the kernel has it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventLoopPolicy, nextPolicy } from "../../src/arbiter/sched.js";
import { LineSink, Logger } from "../../src/core/log.js";
import { waitPort } from "../deploy/harness.js";
import { CaptureSink, cliCommand } from "../gateway/harness.js";
import { freePort, tempDir } from "../site/harness.js";
import { appDir, bootedPids, PYTHON, runCli, serve, sleep, waitFor } from "./harness.js";

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

/** The scheduling policy of thread `pid` (field 41 of /proc/PID/stat), or null if gone. */
function policy(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[38]);
  } catch {
    return null;
  }
}

const linux = process.platform === "linux";

void test("auto: back to the default policy when the event loop is the bottleneck, batch when it is not", () => {
  assert.equal(nextPolicy("other", 0.1), "batch");
  assert.equal(nextPolicy("batch", 0.9), "other");
  // In between, the policy stays, so that it does not flap.
  assert.equal(nextPolicy("batch", 0.6), "batch");
  assert.equal(nextPolicy("other", 0.6), "other");
});

void test(
  "EventLoopPolicy drives the helper: batch at start, then what set() asks, default at stop()",
  { skip: !linux },
  async () => {
    const target = spawn(PYTHON, ["-c", "import time; time.sleep(30)"]);
    const pid = target.pid!;
    const log = new Logger(new LineSink("-"), "critical");
    try {
      const p = EventLoopPolicy.start(PYTHON, log, false, pid);
      assert.ok(await waitFor(() => policy(pid) === SCHED_BATCH, 10_000));
      p.set("other");
      assert.ok(await waitFor(() => policy(pid) === SCHED_OTHER, 10_000));
      p.set("batch");
      assert.ok(await waitFor(() => policy(pid) === SCHED_BATCH, 10_000));
      p.stop();
      assert.ok(await waitFor(() => policy(pid) === SCHED_OTHER, 10_000));
    } finally {
      target.kill();
    }
  },
);
const hasChrt = spawnSync("chrt", ["--version"]).status === 0;

void test("EventLoopPolicy: an interpreter that cannot run the helper gives one warning and the default policy", async () => {
  for (const [python, why] of [
    ["/bin/false", /\(exit 1\)/],
    ["/nonexistent/python3", /ENOENT/],
  ] as const) {
    const sink = new CaptureSink();
    EventLoopPolicy.start(python, new Logger(sink, "debug"), true);
    assert.ok(await waitFor(() => /could not set/.test(sink.text()), 10_000), sink.text());
    await sleep(300); // an exit after the spawn error must not warn twice
    const warnings = sink.lines.filter((l) => l.includes("could not set"));
    assert.equal(warnings.length, 1, sink.text());
    assert.match(
      warnings[0]!,
      /\[WARNING\] could not set the event loop's scheduling policy \(.*\); running with the default policy/,
    );
    assert.match(warnings[0]!, why);
  }
});

void test(
  "WSGI mode: the master runs under SCHED_BATCH, its workers (a respawned one too) under SCHED_OTHER",
  { skip: !linux },
  async () => {
    const app = appDir("v1");
    const s = await serve(app.dir, ["-w", "2", "--log-level", "debug"]);
    try {
      const master = s.run.child.pid!;
      assert.ok(
        await waitFor(() => policy(master) === SCHED_BATCH, 10_000),
        `master policy ${policy(master)}`,
      );
      assert.match(s.run.stderr(), /\[DEBUG\] event loop scheduling policy: SCHED_BATCH/);
      const first = bootedPids(s.run.stderr());
      assert.equal(first.length, 2);
      for (const pid of first) assert.equal(policy(pid), SCHED_OTHER, `worker ${pid}`);
      // A replacement is forked by the BATCH master, so it inherits BATCH and must switch back.
      process.kill(first[0]!, "SIGKILL");
      assert.ok(await waitFor(() => bootedPids(s.run.stderr()).length === 3, 15_000));
      const fresh = bootedPids(s.run.stderr())[2]!;
      assert.equal(policy(fresh), SCHED_OTHER, `replacement worker ${fresh}`);
      assert.equal(policy(master), SCHED_BATCH);
    } finally {
      assert.equal(await s.close(), 0);
      app.remove();
    }
  },
);

void test(
  "--event-loop-sched normal leaves the policy alone, also an inherited SCHED_BATCH in the workers",
  { skip: !linux },
  async () => {
    const app = appDir("v1");
    const s = await serve(app.dir, ["-w", "1", "--event-loop-sched", "normal"]);
    try {
      const master = s.run.child.pid!;
      await sleep(1500); // the switch, when wanted, happens within milliseconds of startup
      assert.equal(policy(master), SCHED_OTHER);
      assert.equal(policy(bootedPids(s.run.stderr())[0]!), SCHED_OTHER);
    } finally {
      await s.close();
    }
    if (hasChrt) {
      // The operator runs the whole server under BATCH: nobody switches anything back.
      const { cmd, args } = cliCommand();
      const port = await freePort();
      const child = spawn(
        "chrt",
        [
          "-b",
          "0",
          cmd,
          ...args,
          "--chdir",
          app.dir,
          "-b",
          `127.0.0.1:${port}`,
          "--python",
          PYTHON,
          "-w",
          "1",
          "--event-loop-sched",
          "normal",
          "supapp:app",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      const gone = new Promise((resolve) => child.on("exit", resolve));
      try {
        assert.ok(await waitFor(() => bootedPids(err).length === 1, 15_000), err);
        assert.equal(policy(child.pid!), SCHED_BATCH);
        assert.equal(policy(bootedPids(err)[0]!), SCHED_BATCH);
      } finally {
        child.kill("SIGINT");
        await gone;
      }
    }
    app.remove();
  },
);

void test("--event-loop-sched with an unknown value: one-line error, exit non-zero", async () => {
  const run = runCli(["--event-loop-sched", "fast", "supapp:app"]);
  assert.notEqual(await run.exited, 0);
  assert.match(run.stderr(), /event-loop-sched/);
  assert.match(run.stderr(), /fast/);
});

const APP_SITE = `
app echo {
    module echo:app;
    chdir ${join(process.cwd(), "test", "apps")};
    python ${PYTHON};
    workers 1;
}
server {
    listen 127.0.0.1:PORT;
    location / { app_pass echo; }
}
`;

const PROXY_SITE = `
SCHED
server {
    listen 127.0.0.1:PORT;
    location / { proxy_pass http://127.0.0.1:9; }
}
`;

async function siteMasterPolicy(text: string): Promise<number | null> {
  const dir = tempDir();
  const port = await freePort();
  const conf = join(dir, "site.conf");
  writeFileSync(conf, text.replaceAll("PORT", String(port)));
  const run = runCli(["-c", conf]);
  try {
    await waitPort(port, { ...run, name: "narwhal" }, 15_000);
    const pid = run.child.pid!;
    await waitFor(() => policy(pid) === SCHED_BATCH, 3000);
    return policy(pid);
  } finally {
    run.child.kill("SIGTERM");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

void test(
  "site config: SCHED_BATCH with an app block (auto), not for a proxy-only front unless asked",
  { skip: !linux },
  async () => {
    assert.equal(await siteMasterPolicy(APP_SITE), SCHED_BATCH);
    assert.equal(await siteMasterPolicy(PROXY_SITE.replace("SCHED", "")), SCHED_OTHER);
    assert.equal(
      await siteMasterPolicy(PROXY_SITE.replace("SCHED", "event_loop_sched batch;")),
      SCHED_BATCH,
    );
    assert.equal(await siteMasterPolicy(APP_SITE + "event_loop_sched normal;\n"), SCHED_OTHER);
  },
);

void test("event_loop_sched with an unknown value: file:line and what is wrong", async () => {
  const dir = tempDir();
  const conf = join(dir, "site.conf");
  writeFileSync(
    conf,
    PROXY_SITE.replace("SCHED", "event_loop_sched fast;").replaceAll("PORT", "8080"),
  );
  const run = runCli(["-t", "-c", conf]);
  const code = await run.exited;
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(code, 0);
  assert.match(run.stderr(), new RegExp(`${conf.replaceAll(".", "\\.")}:2`));
  assert.match(run.stderr(), /event_loop_sched/);
});
