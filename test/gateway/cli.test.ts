/**
 * `narwhal APP_MODULE` as a real process: the hello world example byte for byte, a clean
 * SIGTERM, and startup failures that stop quickly with one line and the traceback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rawRequest } from "../helpers/raw.js";
import { APPS, EXAMPLES, listeningPort, PYTHON, runCli } from "./harness.js";

void test("hello_world:process_http_request answers exactly Hello World; SIGTERM exits 0", async () => {
  const run = runCli([
    "--python",
    PYTHON,
    "--chdir",
    EXAMPLES,
    "hello_world:process_http_request",
    "--bind",
    "127.0.0.1:0",
    "--access-logfile",
    "-",
  ]);
  try {
    const port = await listeningPort(run);
    const r = await rawRequest(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", { count: 1 });
    const text = r.raw.toString("latin1").replace(/^Date: [^\r]*\r\n/m, "Date: *\r\n");
    assert.equal(
      text,
      "HTTP/1.1 200 OK\r\nServer: narwhal\r\nDate: *\r\nContent-type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nHello World",
    );
    // HTTP/1.0 without keep-alive: the same body, then the server closes.
    const r10 = await rawRequest(port, "GET /anything HTTP/1.0\r\n\r\n");
    assert.equal(r10.responses[0]?.status, 200);
    assert.equal(r10.responses[0]?.text, "Hello World");
    assert.equal(r10.closed, true);
  } finally {
    run.child.kill("SIGTERM");
  }
  assert.equal(await run.exited, 0);
  assert.match(run.stderr(), /Booted worker 1 with pid: \d+/);
  assert.match(run.stderr(), /Shutting down: Master/);
  // Gunicorn's default access log format, on stdout for "-".
  assert.match(
    run.stdout(),
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/ HTTP\/1\.1" 200 11 "-" "-"\n/,
  );
  assert.match(run.stdout(), /"GET \/anything HTTP\/1\.0" 200 11 "-" "-"\n$/);
});

void test("a module that fails to import stops startup: non-zero exit, one line, the traceback", async () => {
  const t0 = Date.now();
  const run = runCli([
    "--python",
    PYTHON,
    "--chdir",
    APPS,
    "-w",
    "2",
    "broken_import:app",
    "--bind",
    "127.0.0.1:0",
  ]);
  const code = await run.exited;
  assert.equal(code, 4);
  assert.ok(Date.now() - t0 < 10_000, "fails within seconds");
  const err = run.stderr();
  assert.match(err, /Traceback \(most recent call last\):/);
  assert.match(err, /ModuleNotFoundError: No module named 'this_module_does_not_exist_narwhal'/);
  const last = err.trimEnd().split("\n").at(-1)!;
  assert.match(last, /^narwhal: cannot load broken_import:app: .*ModuleNotFoundError/);
  assert.doesNotMatch(err, /Listening at/);
});

void test("a missing callable stops startup with the reason", async () => {
  const run = runCli([
    "--python",
    PYTHON,
    "--chdir",
    APPS,
    "misc:no_such_app",
    "--bind",
    "127.0.0.1:0",
  ]);
  assert.equal(await run.exited, 4);
  const last = run.stderr().trimEnd().split("\n").at(-1)!;
  assert.match(last, /^narwhal: cannot load misc:no_such_app: .*no_such_app/);
});

void test("a missing interpreter stops startup with one line", async () => {
  const t0 = Date.now();
  const run = runCli([
    "--python",
    "/nonexistent/bin/python9",
    "--chdir",
    APPS,
    "misc:app",
    "--bind",
    "127.0.0.1:0",
  ]);
  assert.equal(await run.exited, 1);
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(
    run.stderr(),
    "narwhal: python interpreter not found: /nonexistent/bin/python9 (--python)\n",
  );
});

void test("without --python, $VIRTUAL_ENV/bin/python is used", async () => {
  const run = runCli(["--chdir", APPS, "misc:app", "--bind", "127.0.0.1:0"], {
    VIRTUAL_ENV: "/nonexistent-venv",
    PATH: "/nonexistent-bin",
  });
  assert.equal(await run.exited, 1);
  assert.match(
    run.stderr(),
    /^narwhal: python interpreter not found: no \$VIRTUAL_ENV\/bin\/python and no python3 on PATH/,
  );
});

void test("Gunicorn flags reach the workers: -w, --threads, --pythonpath, -e KEY=VALUE", async () => {
  const run = runCli([
    "--python",
    PYTHON,
    "--pythonpath",
    APPS,
    "-w",
    "2",
    "--threads",
    "2",
    "-e",
    "NARWHAL_GREETING=hi there",
    "--env=NARWHAL_OTHER=a=b",
    "misc:app",
    "--bind",
    "127.0.0.1:0",
  ]);
  try {
    const port = await listeningPort(run);
    const get = async (path: string): Promise<string> =>
      (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    assert.equal(await get("/env?k=NARWHAL_GREETING"), "hi there");
    assert.equal(await get("/env?k=NARWHAL_OTHER"), "a=b");
    assert.equal(await get("/env?k=NARWHAL_UNSET"), "-");
    assert.equal((run.stderr().match(/Booted worker \d+ with pid/g) ?? []).length, 2);
  } finally {
    run.child.kill("SIGTERM");
  }
  assert.equal(await run.exited, 0);
});

void test("SIGTERM is graceful: the request in flight completes, then exit 0", async () => {
  const run = runCli(["--python", PYTHON, "--chdir", APPS, "misc:app", "--bind", "127.0.0.1:0"]);
  const port = await listeningPort(run);
  const inflight = rawRequest(port, "GET /sleep?s=0.7 HTTP/1.1\r\nHost: x\r\n\r\n", {
    count: 1,
    timeoutMs: 5000,
  });
  await new Promise((r) => setTimeout(r, 250));
  run.child.kill("SIGTERM");
  const r = await inflight;
  assert.equal(r.responses[0]?.status, 200);
  assert.match(r.responses[0]?.text ?? "", /^\d+$/);
  assert.equal(await run.exited, 0);
  assert.match(run.stderr(), /Handling signal: term/);
});
