import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLoad } from "./load.js";
import { appDir, bootedPids, get, PYTHON, runCli, serve, sleep, waitFor } from "./harness.js";

void test("a broken app module at start: exit non-zero within seconds, with the traceback", async () => {
  const app = appDir("x", true);
  const t0 = Date.now();
  const run = runCli([
    "--chdir",
    app.dir,
    "-b",
    "127.0.0.1:0",
    "--python",
    PYTHON,
    "-w",
    "2",
    "supapp:app",
  ]);
  const code = await run.exited;
  app.remove();
  assert.ok(Date.now() - t0 < 10_000);
  assert.notEqual(code, 0);
  assert.match(run.stderr(), /Traceback \(most recent call last\)/);
  assert.match(run.stderr(), /RuntimeError: broken on purpose/);
});

void test("--max-requests 50 --max-requests-jitter 10 under load: workers recycle, zero failed requests", async () => {
  const app = appDir("v1");
  const s = await serve(app.dir, [
    "-w",
    "2",
    "--max-requests",
    "50",
    "--max-requests-jitter",
    "10",
  ]);
  const load = startLoad(s.port, "/", 6, 30_000);
  try {
    assert.ok(
      await waitFor(() => bootedPids(s.run.stderr()).length >= 8, 20_000),
      `six replacements booted:\n${s.run.stderr().slice(-2000)}`,
    );
  } finally {
    const r = await load.stop();
    const code = await s.close();
    app.remove();
    assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
    // Answers came from more than the two first workers.
    const pids = new Set([...r.bodies.keys()].map((b) => b.split(" ")[1]));
    assert.ok(pids.size >= 4, `pids seen: ${[...pids].join(",")}`);
    assert.match(s.run.stderr(), /Autorestarting worker after current request/);
    assert.equal(code, 0);
  }
});

void test("TTIN/TTOU change the pool size; USR1 reopens the logs", async () => {
  const app = appDir("v1");
  const log = join(app.dir, "error.log");
  const access = join(app.dir, "access.log");
  const s = await serve(
    app.dir,
    ["-w", "1", "--error-logfile", log, "--access-logfile", access],
    "supapp:app",
    log,
  );
  const pidsServing = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await get(s.port, "/")).body.split(" ")[1] ?? "");
    return seen;
  };
  try {
    // Two of the same signal sent back to back may be delivered as one (POSIX): wait between.
    s.kill("SIGTTIN");
    assert.ok(await waitFor(() => bootedPids(readFileSync(log, "utf8")).length === 2, 5000));
    s.kill("SIGTTIN");
    assert.ok(
      await waitFor(() => bootedPids(readFileSync(log, "utf8")).length === 3, 5000),
      readFileSync(log, "utf8"),
    );
    assert.ok(await waitFor(async () => (await pidsServing(12)).size === 3, 5000));
    s.kill("SIGTTOU");
    assert.ok(
      await waitFor(() => /Worker exiting/.test(readFileSync(log, "utf8")), 5000),
      readFileSync(log, "utf8"),
    );
    assert.ok(await waitFor(async () => (await pidsServing(12)).size === 2, 5000));

    // logrotate: rename, USR1, new lines go to fresh files.
    renameSync(log, log + ".1");
    renameSync(access, access + ".1");
    s.kill("SIGUSR1");
    assert.ok(
      await waitFor(
        () => existsSync(log) && /Reopened the log files/.test(readFileSync(log, "utf8")),
        5000,
      ),
    );
    assert.equal((await get(s.port, "/?after-rotate")).status, 200);
    assert.ok(
      await waitFor(
        () => existsSync(access) && /after-rotate/.test(readFileSync(access, "utf8")),
        2000,
      ),
    );
    assert.doesNotMatch(readFileSync(access + ".1", "utf8"), /after-rotate/);
    assert.match(readFileSync(log + ".1", "utf8"), /Handling signal: usr1/);
  } finally {
    assert.equal(await s.close(), 0);
    app.remove();
  }
});

void test("--pid writes the master's pid and removes it at exit", async () => {
  const app = appDir("v1");
  const pidfile = join(app.dir, "narwhal.pid");
  const s = await serve(app.dir, ["--pid", pidfile]);
  try {
    assert.equal(readFileSync(pidfile, "utf8").trim(), String(s.run.child.pid));
    // A second server refuses to start on the same pid file.
    const second = runCli([
      "--chdir",
      app.dir,
      "-b",
      "127.0.0.1:0",
      "--python",
      PYTHON,
      "--pid",
      pidfile,
      "supapp:app",
    ]);
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), /already running on PID/);
  } finally {
    assert.equal(await s.close(), 0);
    assert.equal(existsSync(pidfile), false);
    app.remove();
  }
});

void test("a Gunicorn config file with computed values is honoured; --print-config shows it", async () => {
  const app = appDir("v1");
  const conf = join(app.dir, "gunicorn.conf.py");
  writeFileSync(
    conf,
    "import os\n_base = 1\nworkers = _base * 2 + 1\ntimeout = int('4') * 5\nmax_requests = sum([100, 23])\nproc_name = 'sup-' + str(len('abc'))\n",
  );
  try {
    const printed = runCli(["-c", conf, "--print-config", "supapp:app"]);
    assert.equal(await printed.exited, 0, printed.stderr());
    const out = printed.stdout();
    assert.match(out, /^workers\s+= 3$/m);
    assert.match(out, /^timeout\s+= 20$/m);
    assert.match(out, /^max_requests\s+= 123$/m);
    assert.match(out, /^proc_name\s+= sup-3$/m);
    const s = await serve(app.dir, ["-c", conf]);
    try {
      await sleep(100);
      assert.equal(bootedPids(s.run.stderr()).length, 3);
      assert.equal((await get(s.port, "/")).status, 200);
    } finally {
      assert.equal(await s.close(), 0);
    }
  } finally {
    app.remove();
  }
});
