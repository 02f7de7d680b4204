import { test } from "node:test";
import assert from "node:assert/strict";
import { startLoad } from "./load.js";
import { appDir, get, PYTHON, runCli, serve, waitFor } from "./harness.js";

void test("--preload: workers are forked from one zygote; HUP forks from a fresh one with the new code", async () => {
  const app = appDir("v1");
  const s = await serve(app.dir, ["-w", "3", "--preload"]);
  const load = startLoad(s.port, "/", 4, 30_000);
  try {
    const seen = new Map<string, string>();
    assert.ok(
      await waitFor(async () => {
        const [, pid, ppid] = (await get(s.port, "/")).body.split(" ");
        seen.set(pid ?? "", ppid ?? "");
        return seen.size === 3;
      }, 5000),
    );
    const parents = new Set(seen.values());
    assert.equal(parents.size, 1, "one zygote is the parent of every worker");
    const [zygote] = [...parents];
    assert.notEqual(zygote, String(s.run.child.pid));
    assert.match(s.run.stderr(), /Booting preload zygote/);

    app.write("v2");
    s.kill("SIGHUP");
    assert.ok(await waitFor(async () => (await get(s.port, "/")).body.startsWith("v2 "), 10_000));
    assert.ok(await waitFor(() => /Reload complete/.test(s.run.stderr()), 10_000));
    const [, , ppid2] = (await get(s.port, "/")).body.split(" ");
    assert.notEqual(ppid2, zygote, "the new workers come from a new zygote");
  } finally {
    const r = await load.stop();
    assert.equal(await s.close(), 0);
    app.remove();
    assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
  }
});

void test("--preload with a broken app: exit non-zero with the traceback", async () => {
  const app = appDir("x", true);
  const run = runCli([
    "--chdir",
    app.dir,
    "-b",
    "127.0.0.1:0",
    "--python",
    PYTHON,
    "--preload",
    "supapp:app",
  ]);
  const code = await run.exited;
  app.remove();
  assert.notEqual(code, 0);
  assert.match(run.stderr(), /RuntimeError: broken on purpose/);
});
