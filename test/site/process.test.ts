/**
 * `narwhal -c site.conf` as an operator runs it: a real process. From dist/ (npm test)
 * this is `node bin/narwhal`; under tsx the same main() through tsx's loader, so the
 * test never depends on a stale build.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../src/core/paths.js";
import { exited, fill, freePort, get, tempDir } from "./harness.js";

function nodeArgs(argv: string[]): string[] {
  const fromDist = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}`);
  const mainUrl = new URL("../../src/main.js", import.meta.url).href;
  return fromDist
    ? [join(repoRoot(), "bin", "narwhal"), ...argv]
    : [
        ...process.execArgv.filter((a) => !a.startsWith("--test")),
        "-e",
        `import(${JSON.stringify(mainUrl)}).then((m) => m.main(process.argv.slice(1)))`,
        "--",
        ...argv,
      ];
}

function run(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, nodeArgs(argv), { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = `
pid DIR/narwhal.pid;
events {}
http {
  access_log DIR/access.log;
  server {
    listen 127.0.0.1:PORT;
    location / { return 200 "version one\\n"; }
  }
}
`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function until(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function bodyOf(port: number): Promise<string> {
  try {
    return (await get(port, "/")).text;
  } catch {
    return "";
  }
}

void describe("narwhal -c site.conf (a real process)", () => {
  void it("-t: syntax is ok / test is successful, exit 0", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const conf = join(dir, "good.conf");
    writeFileSync(conf, fill(GOOD, await freePort(), dir));
    const r = run(["-t", "-c", conf]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      `narwhal: the configuration file ${conf} syntax is ok\nnarwhal: configuration file ${conf} test is successful\n`,
    );
  });

  void it("-t on a bad config: nginx's message with FILE:LINE, exit 1; serving refuses to start", () => {
    const dir = tempDir();
    dirs.push(dir);
    const conf = join(dir, "bad.conf");
    writeFileSync(
      conf,
      "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n    frobnicate on;\n  }\n}\n",
    );
    const t = run(["-t", "-c", conf]);
    assert.equal(t.status, 1);
    assert.equal(
      t.stderr,
      `narwhal: [emerg] unknown directive "frobnicate" in ${conf}:5\nnarwhal: configuration file ${conf} test failed\n`,
    );
    const s = run(["-c", conf]);
    assert.equal(s.status, 1);
    assert.equal(s.stderr, `narwhal: [emerg] unknown directive "frobnicate" in ${conf}:5\n`);
  });

  void it("serves, writes its pid file, reloads on SIGHUP, keeps the old config when the new one is broken, stops on -s quit", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const port = await freePort();
    const conf = join(dir, "site.conf");
    writeFileSync(conf, fill(GOOD, port, dir));
    const child = spawn(process.execPath, nodeArgs(["-c", conf]), {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      assert.ok(
        await until(async () => (await bodyOf(port)) === "version one\n", 15_000),
        `not serving: ${stderr}`,
      );
      assert.equal(readFileSync(join(dir, "narwhal.pid"), "utf8").trim(), String(child.pid));

      // USR1 reopens the access log (logrotate renamed the old one).
      renameSync(join(dir, "access.log"), join(dir, "access.log.1"));
      child.kill("SIGUSR1");
      const logged = (): boolean =>
        existsSync(join(dir, "access.log")) &&
        /"GET \/ HTTP\/1\.1" 200 12 /.test(readFileSync(join(dir, "access.log"), "utf8"));
      // The line is written just after the response, so poll for it.
      assert.ok(
        await until(async () => (await bodyOf(port)) !== "" && logged(), 5_000),
        "USR1 did not reopen the access log",
      );

      writeFileSync(conf, fill(GOOD.replace("version one", "version two"), port, dir));
      child.kill("SIGHUP");
      assert.ok(
        await until(async () => (await bodyOf(port)) === "version two\n", 5_000),
        "reload did not switch",
      );

      writeFileSync(conf, fill(GOOD.replace("return 200", "retur 200"), port, dir));
      child.kill("SIGHUP");
      await until(() => Promise.resolve(/unknown directive "retur"/.test(stderr)), 5_000);
      assert.match(stderr, /unknown directive "retur" in .*site\.conf:8.*old configuration stays/);
      assert.equal(await bodyOf(port), "version two\n");

      // `-s reload` finds the server through the pid file.
      writeFileSync(conf, fill(GOOD.replace("version one", "version three"), port, dir));
      const sig = run(["-s", "reload", "-c", conf]);
      assert.equal(sig.status, 0, sig.stderr);
      assert.ok(
        await until(async () => (await bodyOf(port)) === "version three\n", 5_000),
        "-s reload did not switch",
      );

      // `-s quit`: a graceful stop (SIGQUIT) through the pid file.
      const quit = run(["-s", "quit", "-c", conf]);
      assert.equal(quit.status, 0, quit.stderr);
      assert.equal(await exited(child, 5_000), 0);
      assert.equal(existsSync(join(dir, "narwhal.pid")), false);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
