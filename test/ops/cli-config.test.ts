/**
 * The real command line as an operator runs it: `narwhal --print-config -c gunicorn.conf.py`.
 * From dist/ (npm test) this is `node bin/narwhal`; under tsx the same main() through tsx's
 * loader, so that the test never depends on a stale build.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../src/core/paths.js";

function narwhal(argv: string[], cwd: string, env: Record<string, string> = {}) {
  const fromDist = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}`);
  const mainUrl = new URL("../../src/main.js", import.meta.url).href;
  const args = fromDist
    ? [join(repoRoot(), "bin", "narwhal"), ...argv]
    : [
        ...process.execArgv.filter((a) => !a.startsWith("--test")),
        "-e",
        `import(${JSON.stringify(mainUrl)}).then((m) => m.main(process.argv.slice(1)))`,
        "--", // the rest are narwhal's arguments, not node's
        ...argv,
      ];
  const venv = join(repoRoot(), ".venv");
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: "utf8",
    timeout: 30_000,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      // the project's interpreter when there is one (a pyenv shim costs 0.5 s a start)
      ...(existsSync(join(venv, "bin", "python")) ? { VIRTUAL_ENV: venv } : {}),
      ...env,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function inDir<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-cli-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CONF = 'workers = len("abcd") * 2 + 1\nbind = f"127.0.0.1:{8000 + 1}"\ntimeout = 10 * 6\n';
const APP =
  "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n";

void test("narwhal --print-config -c gunicorn.conf.py shows the computed values, exit 0", () => {
  inDir({ "gunicorn.conf.py": CONF }, (dir) => {
    const r = narwhal(["--print-config", "-c", "gunicorn.conf.py"], dir, {
      GUNICORN_CMD_ARGS: "--max-requests 50",
    });
    assert.equal(r.status, 0, r.stderr);
    const row = (name: string): string | undefined =>
      r.stdout
        .split("\n")
        .find((l) => l.startsWith(name + " "))
        ?.replace(/ +=/, " =");
    assert.equal(row("workers"), "workers = 9");
    assert.equal(row("bind"), "bind = ['127.0.0.1:8001']");
    assert.equal(row("timeout"), "timeout = 60");
    assert.equal(row("max_requests"), "max_requests = 50");
    assert.equal(row("config"), "config = gunicorn.conf.py");
    assert.equal(r.stderr, "");
  });
});

void test("an unknown setting in the config file: named on stderr, exit 1", () => {
  inDir({ "gunicorn.conf.py": "workers = 2\nwrokers = 4\n" }, (dir) => {
    const r = narwhal(["--print-config", "app:application"], dir);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'narwhal: unknown setting "wrokers" in gunicorn.conf.py:2 (did you mean "workers"?)\n',
    );
  });
});

void test("--check-config: 0 when the config is valid and the app imports, 1 otherwise", () => {
  inDir(
    { "gunicorn.conf.py": CONF, "app.py": APP, "broken.py": "import no_such_module_xyz\n" },
    (dir) => {
      const ok = narwhal(["--check-config", "app:application"], dir);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, "");

      const broken = narwhal(["--check-config", "broken:application"], dir);
      assert.equal(broken.status, 1);
      assert.match(broken.stderr, /ModuleNotFoundError: No module named 'no_such_module_xyz'/);

      const missing = narwhal(["--check-config", "app:nope"], dir);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /AttributeError: module 'app' has no attribute 'nope'/);

      const badFormat = narwhal(
        ["--check-config", "--access-logformat", "%(h)d", "app:application"],
        dir,
      );
      assert.equal(badFormat.status, 1);
      assert.match(badFormat.stderr, /^narwhal: invalid access_log_format: %\(h\)d needs a number/);
    },
  );
});
