import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { parseUmask } from "../../src/arbiter/identity.js";
import { appDir, get, serve } from "./harness.js";

function post(port: number, path: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

void test("--umask values are read like Gunicorn's (octal with a leading 0)", () => {
  assert.equal(parseUmask("0"), 0);
  assert.equal(parseUmask("022"), 0o22);
  assert.equal(parseUmask("0o27"), 0o27);
  assert.equal(parseUmask("0x12"), 0x12);
  assert.equal(parseUmask("18"), 18);
  assert.throws(() => parseUmask("abc"), /not a number/);
});

const root = process.getuid?.() === 0;
// The system interpreter: the project's .venv may live under a directory nobody cannot enter.
const systemPython = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : null;
const nobody = /^nobody:[^:]*:(\d+):(\d+):/m.exec(readFileSync("/etc/passwd", "utf8"));

void test(
  "--user/--group: workers run as that user and can read spilled request bodies",
  { skip: !root || nobody === null || systemPython === null },
  async () => {
    const app = appDir("v1");
    chmodSync(app.dir, 0o755); // the worker, as nobody, must read the app module
    const s = await serve(app.dir, [
      "--python",
      systemPython!,
      "--user",
      "nobody",
      "--group",
      nobody![2]!,
      "--client-body-buffer-size",
      "1024",
    ]);
    try {
      assert.equal((await get(s.port, "/id")).body, `${nobody![1]} ${nobody![2]}`);
      // 64 KiB > the 1 KiB buffer: spilled to a 0600 temp file that the worker must open.
      const r = await post(s.port, "/len", Buffer.alloc(65536, 97));
      assert.deepEqual(r, { status: 200, body: "65536" });
    } finally {
      assert.equal(await s.close(), 0);
      app.remove();
    }
  },
);
