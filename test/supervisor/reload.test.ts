import { test } from "node:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { startLoad } from "./load.js";
import { appDir, get, serve, waitFor } from "./harness.js";

void test("HUP five times under load, the code changing in between: zero failed requests, new code served", async () => {
  const app = appDir("v0");
  const s = await serve(app.dir, ["-w", "2", "--threads", "2"]);
  const load = startLoad(s.port, "/", 8, 60_000);
  try {
    for (let i = 1; i <= 5; i++) {
      const version = `v${i}`;
      app.write(version);
      s.kill("SIGHUP");
      const switched = await waitFor(
        async () => (await get(s.port, "/")).body.startsWith(`${version} `),
        10_000,
      );
      assert.ok(switched, `responses switch to ${version}:\n${s.run.stderr()}`);
      assert.ok(
        await waitFor(() => (s.run.stderr().match(/Reload complete/g) ?? []).length >= i, 10_000),
        `reload ${i} completes`,
      );
    }
  } finally {
    const r = await load.stop();
    const code = await s.close();
    app.remove();
    assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
    assert.ok(r.ok > 100, `only ${r.ok} requests`);
    // After the last reload only v5 answers.
    const versions = new Set([...r.bodies.keys()].map((b) => b.split(" ")[0]));
    for (const v of ["v0", "v5"])
      assert.ok(versions.has(v), `${v} served: ${[...versions].join(",")}`);
    assert.equal(code, 0);
  }
});

void test("HUP with a broken app module: the old code keeps serving, the error is logged", async () => {
  const app = appDir("good");
  const s = await serve(app.dir, ["-w", "2"]);
  const load = startLoad(s.port, "/", 4, 30_000);
  try {
    app.write("bad", true);
    s.kill("SIGHUP");
    assert.ok(
      await waitFor(
        () => /Reload failed, the old workers keep serving/.test(s.run.stderr()),
        10_000,
      ),
      s.run.stderr(),
    );
    assert.match(s.run.stderr(), /RuntimeError: broken on purpose/);
    for (let i = 0; i < 5; i++) assert.match((await get(s.port, "/")).body, /^good \d+ \d+$/);
    // A fixed module then reloads normally.
    app.write("fixed");
    s.kill("SIGHUP");
    assert.ok(
      await waitFor(async () => (await get(s.port, "/")).body.startsWith("fixed "), 10_000),
    );
  } finally {
    const r = await load.stop();
    const code = await s.close();
    app.remove();
    assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
    assert.equal(code, 0);
  }
});

void test("--reload: a changed .py file under --chdir restarts the workers with the new code", async () => {
  const app = appDir("dev1");
  const s = await serve(app.dir, ["-w", "1", "--reload"]);
  try {
    assert.match((await get(s.port, "/")).body, /^dev1 /);
    app.write("dev22");
    assert.ok(
      await waitFor(async () => (await get(s.port, "/")).body.startsWith("dev22 "), 8000),
      s.run.stderr(),
    );
    assert.match(s.run.stderr(), /supapp\.py changed/);
  } finally {
    assert.equal(await s.close(), 0);
    app.remove();
  }
});

void test("HUP re-reads the Gunicorn config file: a new worker count applies", async () => {
  const app = appDir("v1");
  const conf = join(app.dir, "gunicorn.conf.py");
  writeFileSync(conf, "workers = 1\n");
  const s = await serve(app.dir, ["-c", conf]);
  try {
    writeFileSync(conf, "workers = 1 + 2\n");
    s.kill("SIGHUP");
    assert.ok(
      await waitFor(() => /Reload complete: 3 workers/.test(s.run.stderr()), 10_000),
      s.run.stderr(),
    );
    const pids = new Set<string>();
    assert.ok(
      await waitFor(async () => {
        pids.add((await get(s.port, "/")).body.split(" ")[1] ?? "");
        return pids.size === 3;
      }, 5000),
    );
  } finally {
    assert.equal(await s.close(), 0);
    app.remove();
  }
});
