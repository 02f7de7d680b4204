import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, UsageError } from "../../src/core/errors.js";
import { envDefaults, shlexSplit } from "../../src/config/env-args.js";
import { fromPython, isPyConfigLocation } from "../../src/config/pyconfig.js";
import {
  formatConfig,
  parseUmask,
  resolveSettings,
  type ResolvedSettings,
} from "../../src/config/resolve-settings.js";
import { settingByName } from "../../src/config/settings.js";
import { repoRoot } from "../../src/core/paths.js";

// The real interpreter, not a pyenv shim (which costs half a second a start).
const venv = join(repoRoot(), ".venv", "bin", "python");
const PY = existsSync(venv) ? venv : "python3";
const opts = { findPython: () => PY };

/** A scratch directory holding the given files; removed after `fn`. */
function inDir<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-conf-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseEnv = { PATH: process.env["PATH"] ?? "/usr/bin:/bin" };

function resolveIn(
  files: Record<string, string>,
  argv: string[],
  env: Record<string, string> = {},
): ResolvedSettings {
  return inDir(files, (dir) => resolveSettings(argv, { ...baseEnv, ...env }, dir, opts));
}

function configErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError) return e.message;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

function pythonCpuCount(): number {
  const r = spawnSync(PY, ["-c", "import multiprocessing; print(multiprocessing.cpu_count())"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

void test("a Gunicorn config file with computed values is honoured", () => {
  const conf = [
    "import multiprocessing",
    "import os",
    "from os import path",
    "workers = multiprocessing.cpu_count() * 2 + 1",
    'bind = f"127.0.0.1:{8000 + 1}"',
    "timeout = 10 * 3 + 1",
    'raw_env = ["A=" + str(2 ** 10), "B=%s" % path.basename("/x/y")]',
    "preload_app = len(os.sep) == 1",
    "umask = 0o22",
    "user = 1000",
    "BASE_DIR = '/srv'  # constants are not settings",
    "_cores = 4          # private helpers neither",
    "def helper():",
    "    return 1",
    'print("config says hi")  # goes to stderr, not into the JSON',
    "",
  ].join("\n");
  const r = resolveIn({ "gunicorn.conf.py": conf }, ["-c", "gunicorn.conf.py", "app:application"]);
  const s = r.settings;
  assert.equal(s.num("workers"), pythonCpuCount() * 2 + 1);
  assert.deepEqual(s.list("bind"), ["127.0.0.1:8001"]);
  assert.equal(s.num("timeout"), 31);
  assert.deepEqual(s.list("raw_env"), ["A=1024", "B=y"]);
  assert.equal(s.bool("preload_app"), true);
  assert.equal(parseUmask(s.str("umask")), 0o22);
  assert.equal(s.strOrNull("user"), "1000");
  assert.equal(r.configPath, "gunicorn.conf.py");
  assert.equal(r.nginxConfigPath, null);
  assert.equal(r.appModule, "app:application");
  assert.equal(r.sources.get("workers"), "config");
  assert.equal(r.sources.get("backlog"), "default");
  assert.deepEqual(r.warnings, []);
});

void test("without -c, ./gunicorn.conf.py is loaded when it exists (as Gunicorn does)", () => {
  const r = resolveIn(
    { "gunicorn.conf.py": "workers = 3\nwsgi_app = 'site.wsgi:application'\n" },
    [],
  );
  assert.equal(r.settings.num("workers"), 3);
  assert.equal(r.configPath, "gunicorn.conf.py");
  assert.equal(
    r.appModule,
    "site.wsgi:application",
    "wsgi_app names the app when no APP_MODULE is given",
  );
  const cli = resolveIn({ "gunicorn.conf.py": "wsgi_app = 'site.wsgi:application'\n" }, [
    "other:app",
  ]);
  assert.equal(cli.appModule, "other:app");
  assert.equal(resolveIn({}, []).configPath, null);
});

void test("file: and python: locations, and a non-Python -c is an nginx config", () => {
  inDir({ "conf.txt": "workers = 4\n", "myconf.py": "workers = 5\n" }, (dir) => {
    assert.equal(
      resolveSettings(["-c", "file:conf.txt"], baseEnv, dir, opts).settings.num("workers"),
      4,
    );
    assert.equal(
      resolveSettings(["-c", "python:myconf"], baseEnv, dir, opts).settings.num("workers"),
      5,
    );
    const ng = resolveSettings(["-c", "nginx.conf"], baseEnv, dir, opts);
    assert.equal(ng.nginxConfigPath, join(dir, "nginx.conf"));
    assert.equal(ng.configPath, null);
  });
  assert.equal(isPyConfigLocation("a/gunicorn.conf.py"), true);
  assert.equal(isPyConfigLocation("/etc/narwhal/site.conf"), false);
});

void test("an unknown setting is reported by name and line; startup fails", () => {
  const msg = configErrorMessage(() =>
    resolveIn({ "gunicorn.conf.py": "workers = 2\nwrokers = 4\n" }, ["-c", "gunicorn.conf.py"]),
  );
  assert.equal(msg, 'unknown setting "wrokers" in gunicorn.conf.py:2 (did you mean "workers"?)');
  const two = configErrorMessage(() =>
    resolveIn({ "c.py": "frobnicate = 1\nbindd = 'x'\n" }, ["-c", "c.py"]),
  );
  assert.equal(
    two,
    'unknown setting "frobnicate" in c.py:1 (and 1 more: unknown setting "bindd" in c.py:2 (did you mean "bind"?))',
  );
});

void test("hooks and Gunicorn-only settings are ignored with a warning; TLS settings are refused", () => {
  const conf = [
    "def post_fork(server, worker):",
    "    pass",
    "when_ready = lambda server: None",
    'worker_class = "gthread"',
    "",
  ].join("\n");
  const r = resolveIn({ "g.py": conf }, ["-c", "g.py"]);
  assert.deepEqual(r.warnings, [
    'g.py:1: server hook "post_fork" is not supported by narwhal; ignored',
    'g.py:3: server hook "when_ready" is not supported by narwhal; ignored',
    'g.py:4: Gunicorn setting "worker_class" is not supported by narwhal; ignored',
  ]);
  assert.equal(
    configErrorMessage(() =>
      resolveIn({ "g.py": "certfile = '/etc/ssl/a.pem'\n" }, ["-c", "g.py"]),
    ),
    '"certfile" in g.py:1: narwhal does not terminate TLS; put a TLS proxy in front',
  );
  assert.deepEqual(resolveIn({ "g.py": "certfile = None\n" }, ["-c", "g.py"]).warnings, [
    'g.py:1: Gunicorn setting "certfile" is not supported by narwhal; ignored',
  ]);
});

void test("values of the wrong type are clear errors; Gunicorn's lenient forms are accepted", () => {
  const bad: Array<[string, string]> = [
    [
      'workers = "four"',
      'invalid value for setting "workers" in c.py:1: expected an integer: "four"',
    ],
    [
      "workers = True",
      'invalid value for setting "workers" in c.py:1: expected an integer, not bool',
    ],
    [
      "bind = 8000",
      'invalid value for setting "bind" in c.py:1: expected a string or a list of strings, not int',
    ],
    [
      "max_requests = -1",
      'invalid value for setting "max_requests" in c.py:1: must be at least 0: -1',
    ],
    [
      "keepalive = None",
      'invalid value for setting "keepalive" in c.py:1: expected a number of seconds, not None',
    ],
    [
      'loglevel = "loud"',
      'invalid value for setting "loglevel" in c.py:1: one of debug, info, warning, error, critical: "loud"',
    ],
    [
      "access_log_format = lambda: 1",
      'invalid value for setting "access_log_format" in c.py:1: expected a string, not function',
    ],
    [
      "raw_env = {'A': '1'}",
      'invalid value for setting "raw_env" in c.py:1: expected a string or a list of strings, not dict',
    ],
  ];
  for (const [line, want] of bad) {
    assert.equal(
      configErrorMessage(() => resolveIn({ "c.py": line + "\n" }, ["-c", "c.py"])),
      want,
      line,
    );
  }
  const ok = resolveIn(
    {
      "c.py":
        'workers = "4"\nbind = ("a:1", "b:2")\nreload = "true"\nclient_max_body_size = "2m"\npidfile = None\n',
    },
    ["-c", "c.py"],
  ).settings;
  assert.equal(ok.num("workers"), 4);
  assert.deepEqual(ok.list("bind"), ["a:1", "b:2"]);
  assert.equal(ok.bool("reload"), true);
  assert.equal(ok.num("client_max_body_size"), 2 * 1024 * 1024);
  assert.equal(ok.strOrNull("pidfile"), null);
  assert.deepEqual(fromPython(settingByName("bind")!, "0.0.0.0:80"), ["0.0.0.0:80"]);
});

void test("a config file that raises, does not parse or does not exist stops startup with the reason", () => {
  const raised = configErrorMessage(() =>
    resolveIn({ "c.py": "x = 1\ny = 1 / 0\n" }, ["-c", "c.py"]),
  );
  assert.match(raised, /^failed to read config file c\.py \(exit status 1\):\nTraceback/);
  assert.match(raised, /c\.py", line 2, in <module>/);
  assert.match(raised, /ZeroDivisionError: division by zero$/);
  assert.match(
    configErrorMessage(() => resolveIn({ "c.py": "x = (\n" }, ["-c", "c.py"])),
    /SyntaxError/,
  );
  assert.equal(
    configErrorMessage(() => resolveIn({}, ["-c", "nope.py"])),
    'config file "nope.py" doesn\'t exist',
  );
});

// Precedence, lowest first: defaults < WEB_CONCURRENCY < config file < GUNICORN_CMD_ARGS <
// NARWHAL_CMD_ARGS < command line. Every combination of the five sources for `workers`.
void test("precedence: every combination of the five sources", () => {
  const layers = [
    { name: "environment", value: 2 },
    { name: "config", value: 3 },
    { name: "GUNICORN_CMD_ARGS", value: 4 },
    { name: "NARWHAL_CMD_ARGS", value: 5 },
    { name: "command line", value: 6 },
  ] as const;
  inDir({ "c.py": "workers = 3\n" }, (dir) => {
    for (let mask = 0; mask < 32; mask++) {
      const on = (i: number): boolean => (mask & (1 << i)) !== 0;
      const env: Record<string, string> = { ...baseEnv };
      const argv: string[] = [];
      if (on(0)) env["WEB_CONCURRENCY"] = "2";
      if (on(1)) argv.push("-c", "c.py");
      if (on(2)) env["GUNICORN_CMD_ARGS"] = "-w 4";
      if (on(3)) env["NARWHAL_CMD_ARGS"] = "--workers=5";
      if (on(4)) argv.push("-w6");
      const r = resolveSettings(argv, env, dir, opts);
      let want: { name: string; value: number } = { name: "default", value: 1 };
      for (let i = 0; i < layers.length; i++) if (on(i)) want = layers[i]!;
      assert.equal(r.settings.num("workers"), want.value, `sources ${mask.toString(2)}`);
      assert.equal(r.sources.get("workers"), want.name, `sources ${mask.toString(2)}`);
    }
  });
});

void test("GUNICORN_CMD_ARGS / NARWHAL_CMD_ARGS: shell quoting, -c, positional arguments ignored", () => {
  const env = {
    GUNICORN_CMD_ARGS: `--access-logformat '%(h)s "%(r)s"' -n "my app" --bind=127.0.0.1:9001 -c env.py stray:app`,
  };
  const r = resolveIn({ "env.py": "timeout = 7\n", "cli.py": "timeout = 8\n" }, [], env);
  assert.equal(r.settings.str("access_log_format"), '%(h)s "%(r)s"');
  assert.equal(r.settings.strOrNull("proc_name"), "my app");
  assert.deepEqual(r.settings.list("bind"), ["127.0.0.1:9001"]);
  assert.equal(r.settings.num("timeout"), 7, "-c in GUNICORN_CMD_ARGS loads that file");
  assert.equal(r.appModule, null);
  assert.deepEqual(r.warnings, [
    "GUNICORN_CMD_ARGS: positional arguments ignored (stray:app), as Gunicorn does",
  ]);
  // -c on the command line wins over the one in the environment.
  assert.equal(
    resolveIn(
      { "env.py": "timeout = 7\n", "cli.py": "timeout = 8\n" },
      ["-c", "cli.py"],
      env,
    ).settings.num("timeout"),
    8,
  );
  // -b on the command line replaces the list from the environment (not appended).
  assert.deepEqual(
    resolveIn({ "env.py": "" }, ["-b", "[::1]:1", "-b", "unix:/tmp/s"], env).settings.list("bind"),
    ["[::1]:1", "unix:/tmp/s"],
  );
  assert.equal(
    configErrorMessage(() => resolveIn({}, [], { GUNICORN_CMD_ARGS: "--wrokers 3" })),
    "GUNICORN_CMD_ARGS: unrecognized option --wrokers (see narwhal --help)",
  );
  assert.equal(
    configErrorMessage(() => resolveIn({}, [], { NARWHAL_CMD_ARGS: "-n 'unclosed" })),
    "NARWHAL_CMD_ARGS: No closing quotation",
  );
});

void test("shlexSplit splits exactly like Python's shlex.split", () => {
  const inputs = [
    "",
    "   ",
    "-w 4 --bind=127.0.0.1:8000",
    `-n "my app" --access-logformat '%(h)s "%(r)s"'`,
    `a\\ b "c\\"d" 'e\\f' "g\\h" "" ''`,
    `x"y"'z' \\'q\\' "tab\there"`,
    "multi\nline\targs",
    `"\\\\" '\\\\'`,
  ];
  const r = spawnSync(
    PY,
    [
      "-c",
      "import json, shlex, sys; print(json.dumps([shlex.split(s) for s in json.load(sys.stdin)]))",
    ],
    { input: JSON.stringify(inputs), encoding: "utf8", timeout: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    inputs.map((s) => shlexSplit(s)),
    JSON.parse(r.stdout),
  );
  assert.throws(() => shlexSplit('"open'), /No closing quotation/);
  assert.throws(() => shlexSplit("end\\"), /No escaped character/);
});

void test("WEB_CONCURRENCY sets the workers default; PORT the bind default", () => {
  assert.equal(resolveIn({}, [], { WEB_CONCURRENCY: "3" }).settings.num("workers"), 3);
  assert.equal(resolveIn({}, [], { WEB_CONCURRENCY: "3" }).sources.get("workers"), "environment");
  assert.equal(
    resolveIn({ "c.py": "workers = 9\n" }, ["-c", "c.py"], { WEB_CONCURRENCY: "3" }).settings.num(
      "workers",
    ),
    9,
  );
  assert.equal(
    configErrorMessage(() => resolveIn({}, [], { WEB_CONCURRENCY: "lots" })),
    'invalid value for environment variable WEB_CONCURRENCY: "lots" (expected an integer)',
  );
  assert.deepEqual(resolveIn({}, []).settings.list("bind"), ["127.0.0.1:8000"]);
  assert.deepEqual(resolveIn({}, [], { PORT: "5000" }).settings.list("bind"), ["0.0.0.0:5000"]);
  assert.deepEqual(resolveIn({}, ["-b", "127.0.0.1:1"], { PORT: "5000" }).settings.list("bind"), [
    "127.0.0.1:1",
  ]);
  assert.deepEqual(
    resolveIn({ "c.py": "bind = 'unix:/run/app.sock'\n" }, ["-c", "c.py"], {
      PORT: "5000",
    }).settings.list("bind"),
    ["unix:/run/app.sock"],
  );
  assert.equal(
    configErrorMessage(() => envDefaults({ PORT: "http" })),
    'invalid value for environment variable PORT: "http" (expected a port number)',
  );
});

void test("--print-config prints every setting as Gunicorn does: sorted, aligned, Python values", () => {
  const r = resolveIn({ "c.py": "workers = 2 + 3\nbind = ['127.0.0.1:8001', \"[::1]:8001\"]\n" }, [
    "-c",
    "c.py",
    "--print-config",
    "--preload",
  ]);
  const text = formatConfig(r);
  const lines = text.trimEnd().split("\n");
  const names = lines.map((l) => l.split(" ")[0]!);
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(lines.map((l) => l.indexOf(" = "))).size, 1, "values aligned in one column");
  const row = (name: string): string =>
    lines.find((l) => l.startsWith(name + " "))!.replace(/ +=/, " =");
  assert.equal(row("workers"), "workers = 5");
  assert.equal(row("bind"), "bind = ['127.0.0.1:8001', '[::1]:8001']");
  assert.equal(row("config"), "config = c.py");
  assert.equal(row("preload_app"), "preload_app = True");
  assert.equal(row("reload"), "reload = False");
  assert.equal(row("pidfile"), "pidfile = None");
  assert.equal(row("print_config"), "print_config = True");
  assert.equal(
    row("access_log_format"),
    `access_log_format = %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`,
  );
});

void test("umask is read as Gunicorn's auto_int", () => {
  assert.equal(parseUmask("0"), 0);
  assert.equal(parseUmask("022"), 0o22);
  assert.equal(parseUmask("0o027"), 0o27);
  assert.equal(parseUmask("0x12"), 0x12);
  assert.equal(parseUmask("18"), 18);
  assert.throws(() => parseUmask("rwx"), ConfigError);
  assert.throws(() => resolveIn({}, ["--umask", "999999"]), ConfigError);
});
