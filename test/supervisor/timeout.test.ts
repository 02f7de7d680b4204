import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { appDir, get, serve, sleep, waitFor } from "./harness.js";

void test("--timeout: a stuck view gets 504 within timeout + 1 s, its stack is logged, the pool recovers", async () => {
  const app = appDir("v1");
  const access = join(app.dir, "access.log");
  const s = await serve(app.dir, ["-w", "2", "--timeout", "2", "--access-logfile", access]);
  try {
    const t0 = Date.now();
    const r = await get(s.port, "/stuck");
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(took >= 1900 && took <= 3000, `504 after ${took} ms`);
    // The stuck thread's Python stack names the sleeping function.
    assert.ok(
      await waitFor(() => /sleepy_view_for_timeout/.test(s.run.stderr()), 2000),
      s.run.stderr(),
    );
    assert.match(s.run.stderr(), /WORKER TIMEOUT/);
    // Other requests are fine, and the pool is back to two workers.
    for (let i = 0; i < 4; i++) assert.equal((await get(s.port, "/")).status, 200);
    assert.ok(
      await waitFor(() => (s.run.stderr().match(/Booted worker/g) ?? []).length >= 3, 3000),
      "a replacement worker booted",
    );
    // The access log has the 504 too.
    assert.match(readFileSync(access, "utf8"), /"GET \/stuck HTTP\/1\.1" 504 /);
  } finally {
    assert.equal(await s.close(), 0);
    app.remove();
  }
});

void test("heartbeats: a worker that stops answering altogether (SIGSTOP) is killed and replaced", async () => {
  const app = appDir("v1");
  // --timeout 2: the heartbeat limit is max(timeout, 5 s).
  const s = await serve(app.dir, ["-w", "1", "--timeout", "2"]);
  try {
    const [, pid] = (await get(s.port, "/")).body.split(" ");
    process.kill(Number(pid), "SIGSTOP");
    assert.ok(
      await waitFor(
        () => /WORKER TIMEOUT \(pid:\d+\): no answer to PING/.test(s.run.stderr()),
        8000,
      ),
      s.run.stderr(),
    );
    assert.ok(await waitFor(async () => (await get(s.port, "/")).body.split(" ")[1] !== pid, 3000));
  } finally {
    await sleep(10);
    assert.equal(await s.close(), 0);
    app.remove();
  }
});
