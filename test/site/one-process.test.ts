/**
 * One-process mode as an operator runs it: `narwhal -c site.conf` with `app` blocks and
 * `app_pass`, a real process with real Python worker pools. Static files come from disk
 * (`alias`), the rest from the apps (the echo app, Flask, a module the test rewrites),
 * and HUP reloads the apps' code with a new generation of workers.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../src/core/paths.js";
import { exited, fill, freePort, get, tempDir } from "./harness.js";

const ROOT = repoRoot();
const PYTHON = existsSync(join(ROOT, ".venv/bin/python"))
  ? join(ROOT, ".venv/bin/python")
  : "python3";

function nodeArgs(argv: string[]): string[] {
  const fromDist = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}`);
  const mainUrl = new URL("../../src/main.js", import.meta.url).href;
  return fromDist
    ? [join(ROOT, "bin", "narwhal"), ...argv]
    : [
        ...process.execArgv.filter((a) => !a.startsWith("--test")),
        "-e",
        `import(${JSON.stringify(mainUrl)}).then((m) => m.main(process.argv.slice(1)))`,
        "--",
        ...argv,
      ];
}

/** A module the test rewrites between reloads: its text and the worker's pid. */
const VERSIONED = (text: string): string => `import os


def app(environ, start_response):
    body = ("${text} %d %s" % (os.getpid(), os.environ.get("SITE_APP"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`;

const SITE = `
app echo {
    module echo:app;
    chdir ${join(ROOT, "test", "apps")};
    python ${PYTHON};
    workers 2;
    threads 2;
    timeout 20s;
}
app echo_strict {
    module echo:app;
    chdir ${join(ROOT, "test", "apps")};
    python ${PYTHON};
    forwarded_allow_ips 192.0.2.1,10.0.0.0/8;
}
app flask {
    module app:app;
    chdir ${join(ROOT, "examples", "flask_app")};
    python ${PYTHON};
}
app versioned {
    module versioned:app;
    chdir DIR;
    python ${PYTHON};
    workers 2;
    env SITE_APP=from-the-app-block;
}
server {
    listen 127.0.0.1:PORT;
    client_max_body_size 1k;
    location / {
        app_pass echo;
    }
    location /static/ {
        alias DIR/files/;
    }
    location /strict/ {
        app_pass echo_strict;
    }
    location /hello/ {
        app_pass flask;
    }
    location = /version {
        app_pass versioned;
    }
}
`;

async function until(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function text(port: number, path: string): Promise<string> {
  try {
    const r = await get(port, path);
    return r.status === 200 ? r.text : `${r.status}`;
  } catch {
    return "";
  }
}

void describe("narwhal -c site.conf with app blocks (one process)", () => {
  const dir = tempDir({
    "files/app.css": "body { color: teal }\n",
    "versioned.py": VERSIONED("one"),
  });
  let child: ChildProcess | null = null;
  let stderr = "";
  after(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  void it("serves static files from alias and the apps through app_pass; HUP reloads the apps' code", async () => {
    const port = await freePort();
    const conf = join(dir, "site.conf");
    writeFileSync(conf, fill(SITE, port, dir));
    child = spawn(process.execPath, nodeArgs(["-c", conf]), {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    assert.ok(
      await until(async () => (await text(port, "/static/app.css")) !== "", 30_000),
      `not serving: ${stderr}`,
    );

    // Static: from disk, with nginx's headers, no worker involved.
    const css = await get(port, "/static/app.css");
    assert.equal(css.status, 200);
    assert.equal(css.text, "body { color: teal }\n");
    assert.equal(css.header("content-type"), "text/css");
    assert.ok(css.header("etag"));
    assert.equal((await get(port, "/static/missing.css")).status, 404);

    // The echo app: the request as the WSGI environ shows it.
    const r = await get(port, "/some/path?q=1", { "X-Test": "yes" }, "POST", "hello body");
    assert.equal(r.status, 200, r.text);
    const env = JSON.parse(r.text) as Record<string, string>;
    assert.equal(env["REQUEST_METHOD"], "POST");
    assert.equal(env["PATH_INFO"], "/some/path");
    assert.equal(env["QUERY_STRING"], "q=1");
    assert.equal(env["HTTP_X_TEST"], "yes");
    assert.equal(env["REMOTE_ADDR"], "127.0.0.1");
    assert.equal(env["SERVER_PORT"], String(port));
    assert.equal(Buffer.from(env["body_base64"]!, "base64").toString(), "hello body");

    // forwarded_allow_ips (Gunicorn's default: loopback) decides who may claim https.
    const proto = { "X-Forwarded-Proto": "https" };
    const trusted = JSON.parse((await get(port, "/a", proto)).text) as Record<string, string>;
    assert.equal(trusted["wsgi.url_scheme"], "https");
    const plain = JSON.parse((await get(port, "/a")).text) as Record<string, string>;
    assert.equal(plain["wsgi.url_scheme"], "http");
    const strict = JSON.parse((await get(port, "/strict/a", proto)).text) as Record<string, string>;
    assert.equal(strict["wsgi.url_scheme"], "http");
    assert.equal(strict["PATH_INFO"], "/strict/a");
    const contradiction = await get(port, "/a", { ...proto, "X-Forwarded-Ssl": "off" });
    assert.equal(contradiction.status, 400);

    // The location's client_max_body_size applies before the app sees the body.
    const big = await get(port, "/upload", {}, "POST", "x".repeat(2000));
    assert.equal(big.status, 413);

    // Flask, through its own pool.
    const hello = await get(port, "/hello/narwhal");
    assert.equal(hello.status, 200);
    assert.match(hello.text, /Hello, narwhal!/);

    // HUP with new code: the versioned app answers from a new generation of workers.
    const before = await text(port, "/version");
    // `env KEY=VALUE` of the app block is in the workers' environment.
    assert.match(before, /^one \d+ from-the-app-block$/);
    writeFileSync(join(dir, "versioned.py"), VERSIONED("two"));
    child.kill("SIGHUP");
    assert.ok(
      await until(async () => (await text(port, "/version")).startsWith("two "), 20_000),
      `HUP did not reload the app's code: ${stderr}`,
    );
    const oldPid = before.split(" ")[1]!;
    // Once the old generation has drained, no answer comes from its workers.
    assert.ok(
      await until(async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add(await text(port, "/version"));
        return [...seen].every((t) => t.startsWith("two ") && t.split(" ")[1] !== oldPid);
      }, 20_000),
      "old workers still answer",
    );

    // New code that cannot load: the old workers keep serving.
    writeFileSync(join(dir, "versioned.py"), "raise ImportError('broken on purpose')\n");
    child.kill("SIGHUP");
    await until(() => Promise.resolve(/broken on purpose/.test(stderr)), 20_000);
    assert.match(stderr, /broken on purpose/);
    assert.match(await text(port, "/version"), /^two \d+ from-the-app-block$/);

    // QUIT: a graceful stop of the site and every pool.
    child.kill("SIGQUIT");
    assert.equal(await exited(child, 20_000), 0, stderr);
  });
});
