// Issue 6, "the article's deployment, end to end": the classic article's site file in
// front of narwhal, in front of a real Gunicorn, and the same site in one process
// (`app_pass`), each as real processes on loopback with the Django example.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  checkAdminLogin,
  checkHostReachesDjango,
  checkLoginPage,
  checkStatic,
  postLogin,
} from "./django-checks.js";
import {
  FIXTURES,
  articleSite,
  fetchLocal,
  freePort,
  prepareDjango,
  stopAll,
  type DjangoSite,
  type Proc,
} from "./harness.js";
import {
  behindGunicorn,
  oneProcess,
  startFront,
  startNarwhalApp,
  twoProcesses,
  type Layout,
} from "./layouts.js";

/** A config refused only because this build lacks the one-process directives. */
const NO_APP_PASS = /unknown directive "(app|app_pass)"/;

let dj: DjangoSite;
before(async () => {
  dj = await prepareDjango();
});
after(async () => {
  await stopAll();
  dj.cleanup();
});

void describe("two processes: narwhal APP --bind + narwhal -c site.conf", () => {
  let layout: Layout;
  before(async () => {
    layout = await twoProcesses(dj);
  });
  after(async () => {
    await layout.stop();
  });
  void it("serves Django's pages through the proxy", async () => {
    await checkLoginPage(layout.port);
  });
  void it("passes the client's Host on ($host)", async () => {
    await checkHostReachesDjango(layout.port);
  });
  void it("serves the admin's static files from STATIC_ROOT", async () => {
    await checkStatic(layout.port, dj);
  });
  void it("logs in to the admin (CSRF cookie, POST, session)", async () => {
    await checkAdminLogin(layout.port, dj);
  });
  // docs/deployment.md: `Host $host` drops the port, so off port 80 a browser's Origin
  // no longer matches what Django sees; `Host $http_host` keeps it.
  void it("off port 80, $host fails a browser's CSRF Origin check and $http_host passes it", async () => {
    const at = `localhost:${layout.port}`;
    const refused = await postLogin(layout.port, dj, { host: at, origin: `http://${at}` });
    assert.equal(refused.post.status, 403);
    assert.match(refused.post.text, /CSRF verification failed/);
    const port = await freePort();
    const site = articleSite(layout.upstream, port, dj.staticRoot).replace(
      "Host $host",
      "Host $http_host",
    );
    const front = await startFront(site, port, dj.dir);
    try {
      const hostPort = `localhost:${port}`;
      const ok = await postLogin(port, dj, { host: hostPort, origin: `http://${hostPort}` });
      assert.equal(ok.post.status, 302, ok.post.text);
      assert.equal(ok.post.headers["location"], `http://localhost:${port}/admin/`);
    } finally {
      await front.stop();
    }
  });
});

void describe("what the app receives through the article's site file", () => {
  let app: Proc;
  let front: Proc;
  let port = 0;
  before(async () => {
    const appPort = await freePort();
    port = await freePort();
    app = await startNarwhalApp("echo_headers:app", FIXTURES, appPort, {}, 1);
    front = await startFront(
      articleSite(`127.0.0.1:${appPort}`, port, dj.staticRoot),
      port,
      dj.dir,
    );
  });
  after(async () => {
    await Promise.all([front.stop(), app.stop()]);
  });

  void it("X-Forwarded-For: the client's address, appended to what it sent", async () => {
    const r = await fetchLocal(port, "/accounts/?next=/admin/", {
      headers: { Host: "shop.example.org" },
    });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.text) as Record<string, string | null>;
    assert.equal(seen["host"], "shop.example.org");
    assert.equal(seen["x_forwarded_for"], "127.0.0.1");
    assert.equal(seen["path"], "/accounts/");
    assert.equal(seen["query"], "next=/admin/");
    assert.equal(seen["remote_addr"], "127.0.0.1");
    const chained = await fetchLocal(port, "/", {
      headers: { Host: "shop.example.org:8080", "X-Forwarded-For": "203.0.113.9" },
    });
    const seen2 = JSON.parse(chained.text) as Record<string, string | null>;
    assert.equal(seen2["x_forwarded_for"], "203.0.113.9, 127.0.0.1");
    // $host is the name without the port (nginx: "host name from the request line, or
    // the Host header field, or the server name").
    assert.equal(seen2["host"], "shop.example.org");
  });
});

void describe("the same front in front of a real Gunicorn", () => {
  let layout: Layout;
  before(async () => {
    layout = await behindGunicorn(dj);
  });
  after(async () => {
    await layout.stop();
  });
  void it("serves Django's pages through the proxy", async () => {
    await checkLoginPage(layout.port);
  });
  void it("passes the client's Host on ($host)", async () => {
    await checkHostReachesDjango(layout.port);
  });
  void it("serves the admin's static files from STATIC_ROOT", async () => {
    await checkStatic(layout.port, dj);
  });
  void it("logs in to the admin (CSRF cookie, POST, session)", async () => {
    await checkAdminLogin(layout.port, dj);
  });
});

void describe("one process: the same site with app_pass", () => {
  let layout: Layout | string;
  before(async () => {
    layout = await oneProcess(dj);
    if (typeof layout === "string" && !NO_APP_PASS.test(layout))
      throw new Error(`the one-process site is refused:\n${layout}`);
  });
  after(async () => {
    if (typeof layout !== "string") await layout.stop();
  });
  const run = (name: string, f: (l: Layout) => Promise<void> | void): void => {
    void it(name, async (t) => {
      if (typeof layout === "string") {
        t.skip(`app/app_pass not in this build: ${layout}`);
        return;
      }
      await f(layout);
    });
  };
  run("serves Django's pages from the app's workers", (l) => checkLoginPage(l.port));
  run("Django sees the client's Host", (l) => checkHostReachesDjango(l.port));
  run("serves the admin's static files from STATIC_ROOT", (l) => checkStatic(l.port, dj));
  run("logs in to the admin (CSRF cookie, POST, session)", (l) => checkAdminLogin(l.port, dj));
  run("is one process tree: narwhal and its own Python workers", (l) => {
    assert.equal(l.procs.length, 1);
    const pid = l.procs[0]!.child.pid!;
    const children = execFileSync("ps", ["-o", "args=", "--ppid", String(pid)], {
      encoding: "utf8",
    })
      .split("\n")
      .filter((x) => x.trim() !== "");
    // `workers 2` in the app block: two Python workers, children of the front itself, and
    // at most the helper that sets the event loop's scheduling policy (arbiter/sched.ts).
    const workers = children.filter((x) => x.includes("-m narwhal_worker "));
    assert.equal(workers.length, 2, children.join("\n"));
    const others = children.filter((x) => !x.includes("-m narwhal_worker "));
    assert.ok(
      others.every((x) => x.includes("narwhal_worker/sched.py")) && others.length <= 1,
      children.join("\n"),
    );
  });
});

void describe("what the app receives through app_pass (one process)", () => {
  let layout: Layout | string;
  before(async () => {
    layout = await oneProcess(dj, {}, { module: "echo_headers:app", chdir: FIXTURES });
    if (typeof layout === "string" && !NO_APP_PASS.test(layout))
      throw new Error(`the one-process site is refused:\n${layout}`);
  });
  after(async () => {
    if (typeof layout !== "string") await layout.stop();
  });
  void it("the client's own address and Host, no proxy headers", async (t) => {
    if (typeof layout === "string") {
      t.skip(`app/app_pass not in this build: ${layout}`);
      return;
    }
    const r = await fetchLocal(layout.port, "/accounts/?next=/admin/", {
      headers: { Host: "shop.example.org:8080" },
    });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.text) as Record<string, string | null>;
    assert.equal(
      seen["host"],
      "shop.example.org:8080",
      "Host as the client sent it, port included",
    );
    assert.equal(seen["x_forwarded_for"], null, "no proxy, no X-Forwarded-For");
    assert.equal(seen["remote_addr"], "127.0.0.1");
    assert.equal(seen["path"], "/accounts/");
    assert.equal(seen["query"], "next=/admin/");
  });
});
