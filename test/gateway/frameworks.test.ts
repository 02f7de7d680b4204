/**
 * Real Django (examples/lifecycle) and real Flask (examples/flask_app) served through
 * narwhal's workers: pages, forms (CSRF), a 20 MB multipart upload, streaming, files,
 * the admin, 404 and 500. Each suite runs twice: plain, and wrapped in
 * wsgiref.validate.validator (test/apps/validated.py), which must not complain.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient } from "../helpers/raw.js";
import {
  APPS,
  EXAMPLES,
  PYTHON,
  recordFor,
  sleep,
  startGateway,
  validatorComplaints,
  type TestGateway,
} from "./harness.js";

const sha = (b: Buffer | Uint8Array): string => createHash("sha256").update(b).digest("hex");
const BIG = 20 * 1024 * 1024;
function bigPayload(): Buffer {
  const b = Buffer.allocUnsafe(BIG);
  for (let i = 0; i < BIG; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

/** First chunk arrives well before the last is produced: the response really streams. */
async function assertStreams(
  port: number,
  path: string,
  firstMarker: string,
  lastMarker: string,
  spanMs: number,
): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    const t0 = performance.now();
    await c.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    assert.ok(await c.until(() => c.raw.includes(firstMarker), 5000), "first chunk");
    const first = performance.now() - t0;
    assert.ok(!c.raw.includes(lastMarker), "last chunk not yet produced");
    const r = await c.response(0, 10_000);
    const total = performance.now() - t0;
    // The first chunk came at least half the production time before the last: it was
    // sent as produced, not held until the end (arrival delays under load don't matter).
    assert.ok(
      first < total - spanMs * 0.5,
      `first chunk at ${first.toFixed(0)} ms, all at ${total.toFixed(0)} ms`,
    );
    assert.equal(r.status, 200);
    return r.text;
  } finally {
    c.destroy();
  }
}

function cookieOf(res: Response, name: string): string {
  const all = res.headers.getSetCookie();
  for (const c of all) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1]!;
  }
  throw new Error(`no ${name} cookie in ${JSON.stringify(all)}`);
}

for (const validated of [false, true]) {
  void describe(`Django lifecycle project${validated ? " under wsgiref.validate" : ""}`, () => {
    let gw: TestGateway;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "narwhal-django-"));
      const env = [
        `LIFECYCLE_DB=${join(dir, "db.sqlite3")}`,
        `LIFECYCLE_MEDIA_ROOT=${join(dir, "media")}`,
        `LIFECYCLE_STATIC_ROOT=${join(dir, "static")}`,
        "LIFECYCLE_DEBUG=0",
        "LIFECYCLE_ALLOWED_HOSTS=127.0.0.1,localhost",
      ];
      const migrate = spawnSync(PYTHON, ["manage.py", "migrate", "-v", "0"], {
        cwd: join(EXAMPLES, "lifecycle"),
        env: {
          ...process.env,
          ...Object.fromEntries(env.map((kv) => kv.split("=", 2) as [string, string])),
        },
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(migrate.status, 0, migrate.stderr);
      gw = await startGateway(
        validated
          ? { app: "validated:wrapped('django')", chdir: APPS, env, workers: 2, threads: 2 }
          : {
              app: "lifecycle.wsgi:application",
              chdir: join(EXAMPLES, "lifecycle"),
              env,
              workers: 2,
              threads: 2,
            },
      );
    });
    after(async () => {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    void test("a page rendered from a template", async () => {
      const r = await fetch(gw.url("/"));
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/);
      const html = await r.text();
      assert.match(html, /<title>lifecycle: home<\/title>/);
      assert.match(html, /Served by a WSGI server at \/\./);
      assert.match(html, /href="\/static\/pages\/site\.css"/);
    });

    void test("a form POST with CSRF: token from the page and cookie accepted, missing token refused", async () => {
      const page = await fetch(gw.url("/greet/"));
      const token = cookieOf(page, "csrftoken");
      const html = await page.text();
      const field = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(field);
      const ok = await fetch(gw.url("/greet/"), {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          cookie: `csrftoken=${token}`,
        },
        body: new URLSearchParams({ csrfmiddlewaretoken: field, name: "narwhal" }).toString(),
      });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /<p id="greeting">Hello, narwhal!<\/p>/);
      const refused = await fetch(gw.url("/greet/"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "name=x",
      });
      assert.equal(refused.status, 403);
      await refused.arrayBuffer();
    });

    void test("a 20 MB multipart upload", async () => {
      const page = await fetch(gw.url("/upload/"));
      const token = cookieOf(page, "csrftoken");
      await page.text();
      const data = bigPayload();
      const form = new FormData();
      form.append("csrfmiddlewaretoken", token);
      form.append("file", new Blob([data]), "big.bin");
      const r = await fetch(gw.url("/upload/"), {
        method: "POST",
        body: form,
        headers: { cookie: `csrftoken=${token}` },
      });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { name: "big.bin", size: BIG, sha256: sha(data) });
      const rec = await recordFor(gw, "/upload/", (x) => x.bodyLength > 0);
      assert.equal(rec.bodySpilled, true);
    });

    void test("a StreamingHttpResponse flows chunk by chunk", async () => {
      const text = await assertStreams(
        gw.port,
        "/stream/?count=4&delay=0.3",
        "line 0\n",
        "line 3\n",
        900,
      );
      assert.equal(text, "line 0\nline 1\nline 2\nline 3\n");
    });

    void test("a FileResponse", async () => {
      const r = await fetch(gw.url("/download/"));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-disposition"), 'attachment; filename="data.bin"');
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(body.length, 262144);
      assert.equal(sha(body), sha(Buffer.from(Array.from({ length: 262144 }, (_, i) => i % 251))));
      // Plain Django hands the file to Node; under the validator the iterable is wrapped.
      const rec = await recordFor(gw, "/download/");
      assert.equal(rec.fileHandOff, !validated);
    });

    void test("the admin login page, and /admin/ redirecting to it", async () => {
      const r = await fetch(gw.url("/admin/login/"));
      assert.equal(r.status, 200);
      const html = await r.text();
      assert.match(html, /Django administration/);
      assert.match(html, /name="csrfmiddlewaretoken"/);
      const redirect = await fetch(gw.url("/admin/"), { redirect: "manual" });
      assert.equal(redirect.status, 302);
      assert.equal(redirect.headers.get("location"), "/admin/login/?next=/admin/");
      await redirect.arrayBuffer();
    });

    void test("a 404 and a 500 (traceback in the error log)", async () => {
      const nf = await fetch(gw.url("/no/such/page/"));
      assert.equal(nf.status, 404);
      await nf.arrayBuffer();
      const err = await fetch(gw.url("/crash/"));
      assert.equal(err.status, 500);
      await err.arrayBuffer();
      await sleep(100);
      const log = gw.log.text();
      assert.match(log, /Traceback \(most recent call last\):/);
      assert.match(log, /RuntimeError: lifecycle crash view: this error is deliberate/);
    });

    void test("no complaint from wsgiref.validate in the error log", async () => {
      await sleep(100);
      assert.deepEqual(validatorComplaints(gw.log.text()), []);
    });
  });

  void describe(`Flask app${validated ? " under wsgiref.validate" : ""}`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway(
        validated
          ? { app: "validated:wrapped('flask')", chdir: APPS, threads: 2 }
          : { app: "app:app", chdir: join(EXAMPLES, "flask_app"), threads: 2 },
      );
    });
    after(async () => {
      await gw.stop();
    });

    void test("pages", async () => {
      const r = await fetch(gw.url("/"));
      assert.equal(r.status, 200);
      assert.match(await r.text(), /<h1>flask on narwhal<\/h1><p>Hello from Flask<\/p>/);
      const h = await fetch(gw.url("/hello/w%C3%B6rld"));
      assert.match(await h.text(), /Hello, wörld!/);
    });

    void test("a form POST and a 20 MB multipart upload", async () => {
      const f = await fetch(gw.url("/echo"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "a=1&b=2",
      });
      assert.deepEqual(await f.json(), {
        size: 7,
        sha256: sha(Buffer.from("a=1&b=2")),
        content_type: "application/x-www-form-urlencoded",
      });
      const data = bigPayload();
      const form = new FormData();
      form.append("note", "twenty");
      form.append("file", new Blob([data]), "big.bin");
      const r = await fetch(gw.url("/upload"), { method: "POST", body: form });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), {
        name: "big.bin",
        size: BIG,
        sha256: sha(data),
        fields: { note: "twenty" },
      });
    });

    void test("a streaming response flows chunk by chunk", async () => {
      const text = await assertStreams(
        gw.port,
        "/stream?count=4&delay=0.3",
        "line 0\n",
        "line 3\n",
        900,
      );
      assert.equal(text, "line 0\nline 1\nline 2\nline 3\n");
    });

    void test("send_file", async () => {
      const r = await fetch(gw.url("/file"));
      assert.equal(r.status, 200);
      const body = Buffer.from(await r.arrayBuffer());
      assert.deepEqual(body, Buffer.from(Array.from({ length: 65536 }, (_, i) => i % 251)));
    });

    void test("a 404 and a 500 (traceback in the error log)", async () => {
      const nf = await fetch(gw.url("/nope"));
      assert.equal(nf.status, 404);
      await nf.arrayBuffer();
      const err = await fetch(gw.url("/crash"));
      assert.equal(err.status, 500);
      await err.arrayBuffer();
      await sleep(100);
      assert.match(gw.log.text(), /RuntimeError: flask crash view: this error is deliberate/);
    });

    void test("no complaint from wsgiref.validate in the error log", async () => {
      await sleep(100);
      assert.deepEqual(validatorComplaints(gw.log.text()), []);
    });
  });
}
