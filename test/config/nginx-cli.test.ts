/** nginx-mode command line: argv grammar, -t/-T output, -s through a real pid file and process. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/core/errors.js";
import { parseArgs } from "../../src/config/cli.js";
import { isNginxInvocation, parseNginxArgs } from "../../src/config/nginx/args.js";
import { runNginxCli, type CliIo } from "../../src/config/nginx/cli.js";

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
  };
  return io;
}

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-cli-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

void test("mode choice: a non-.py -c, or an nginx-only flag; Gunicorn's -t/-p/-g/-e keep their meaning otherwise", () => {
  assert.equal(isNginxInvocation(["-c", "site.conf"]), true);
  assert.equal(isNginxInvocation(["-t", "-c", "site.conf"]), true);
  assert.equal(isNginxInvocation(["-csite.conf", "-t"]), true);
  assert.equal(isNginxInvocation(["--config=site.conf"]), true);
  assert.equal(isNginxInvocation(["-s", "reload"]), true);
  assert.equal(isNginxInvocation(["-V"]), true);
  assert.equal(isNginxInvocation(["-c", "gunicorn.conf.py", "-t", "30", "app:app"]), false);
  assert.equal(isNginxInvocation(["-t", "30", "-p", "x.pid", "app:app"]), false);
  const g = parseArgs(["-c", "site.conf", "-t", "-g", "pid /tmp/x.pid;"]);
  assert.equal(g.command.config, "site.conf");
  assert.equal(g.command.nginx?.test, true);
  assert.equal(g.command.nginx?.globals, "pid /tmp/x.pid;");
});

void test("nginx argv grammar: combined flags, attached values, errors", () => {
  const f = parseNginxArgs(["-tq", "-cfile.conf", "-p", "/srv", "-e", "stderr", "-s", "reopen"]);
  assert.deepEqual(
    [f.test, f.quiet, f.config, f.prefix, f.errorLog, f.signal, f.dump],
    [true, true, "file.conf", "/srv", "stderr", "reopen", false],
  );
  assert.equal(parseNginxArgs(["-T"]).dump, true);
  assert.equal(parseNginxArgs(["-V"]).versionVerbose, true);
  assert.throws(
    () => parseNginxArgs(["-s", "restart"]),
    (e: unknown) => e instanceof UsageError && e.message === 'invalid option: "-s restart"',
  );
  assert.throws(
    () => parseNginxArgs(["-x"]),
    (e: unknown) => e instanceof UsageError && e.message === 'invalid option: "x"',
  );
  assert.throws(
    () => parseNginxArgs(["-c"]),
    (e: unknown) => e instanceof UsageError && e.message === 'option "-c" requires file name',
  );
  assert.throws(() => parseNginxArgs(["app:app"]), UsageError);
});

void test("-t on a good config prints nginx's two lines; -T also dumps every file", async () => {
  const dir = tmp({
    "main.conf": "server {\n  listen 8080;\n  include extra.inc;\n}\n",
    "extra.inc": "location / { return 204; }\n",
  });
  const file = join(dir, "main.conf");
  const io = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-t", "-c", file]), io), 0);
  assert.equal(
    io.err,
    `narwhal: the configuration file ${file} syntax is ok\nnarwhal: configuration file ${file} test is successful\n`,
  );
  assert.equal(io.out, "");
  const dump = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-T", "-c", file]), dump), 0);
  assert.equal(
    dump.out,
    `# configuration file ${file}:\nserver {\n  listen 8080;\n  include extra.inc;\n}\n\n# configuration file ${join(dir, "extra.inc")}:\nlocation / { return 204; }\n\n`,
  );
  const quiet = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-tq", "-c", file]), quiet), 0);
  assert.equal(quiet.err, "");
});

void test("-t on a bad config prints the error with FILE:LINE and exits 1", async () => {
  const dir = tmp({ "main.conf": "server {\n  listen 8080;\n  bogus;\n}\n" });
  const file = join(dir, "main.conf");
  const io = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-t", "-c", file]), io), 1);
  assert.equal(
    io.err,
    `narwhal: [emerg] unknown directive "bogus" in ${file}:3\nnarwhal: configuration file ${file} test failed\n`,
  );
  const g = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-t", "-c", file, "-g", "worker_processes x;"]), g),
    1,
  );
  assert.match(
    g.err,
    /^narwhal: \[emerg\] invalid value "x" in "worker_processes" directive in command line\n/,
  );
});

void test("-s reload|reopen|quit|stop signal the process named by the pid file", async (t) => {
  // A real process that reports the first signal it gets, then exits.
  const child = spawn(
    process.execPath,
    [
      "-e",
      "for (const s of ['SIGHUP','SIGUSR1','SIGQUIT','SIGTERM']) process.on(s, () => { process.stdout.write(s); process.exit(0); }); process.stdout.write('ready'); setTimeout(() => process.exit(3), 10000);",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout.setEncoding("utf8");
  await new Promise<void>((res) => {
    child.stdout.on("data", (d: string) => {
      out += d;
      if (out.includes("ready")) res();
    });
  });
  const dir = tmp({
    "main.conf": "pid run.pid;\nserver { listen 8080; }\n",
    "run.pid": `${child.pid}\n`,
  });
  const exited = new Promise<number | null>((res) =>
    child.on("exit", (code) => {
      res(code);
    }),
  );
  const io = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-c", join(dir, "main.conf"), "-s", "reload"]), io),
    0,
  );
  assert.equal(await exited, 0);
  assert.equal(out, "readySIGHUP");
  assert.equal(io.err, "");
});

void test("-s errors: no pid directive, missing pid file, garbage pid, dead process", async () => {
  const dir = tmp({
    "nopid.conf": "server { listen 8080; }\n",
    "main.conf": "pid run.pid;\nserver { listen 8080; }\n",
  });
  let io = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-c", join(dir, "nopid.conf"), "-s", "stop"]), io),
    1,
  );
  assert.match(io.err, /no "pid" directive/);
  io = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-c", join(dir, "main.conf"), "-s", "stop"]), io),
    1,
  );
  assert.equal(
    io.err,
    `narwhal: [error] open() "${join(dir, "run.pid")}" failed (2: No such file or directory)\n`,
  );
  writeFileSync(join(dir, "run.pid"), "abc\n");
  io = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-c", join(dir, "main.conf"), "-s", "quit"]), io),
    1,
  );
  assert.equal(io.err, `narwhal: [error] invalid PID number "abc" in "${join(dir, "run.pid")}"\n`);
  writeFileSync(join(dir, "run.pid"), "2147483646\n");
  io = capture();
  assert.equal(
    await runNginxCli(parseNginxArgs(["-c", join(dir, "main.conf"), "-s", "reopen"]), io),
    1,
  );
  assert.match(io.err, /kill\(2147483646, SIGUSR1\) failed \(3: No such process\)/);
});

void test("-v / -V / -h print and exit 0; nothing else means serve", async () => {
  const io = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-V"]), io), 0);
  assert.match(io.err, /^narwhal version: narwhal\/\d+\.\d+\.\d+\nbuilt with Node\.js v/);
  const h = capture();
  assert.equal(await runNginxCli(parseNginxArgs(["-h"]), h), 0);
  assert.match(h.err, /Usage: narwhal \[-\?hvVtTq\]/);
  assert.equal(await runNginxCli(parseNginxArgs(["-c", "whatever.conf"]), capture()), "serve");
});
