import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResponseSpool } from "../../src/proxy/spool.js";

const chunk = (i: number, n = 1000): Buffer => Buffer.alloc(n, 0x41 + (i % 26));

async function drain(s: ResponseSpool): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s.chunks()) parts.push(c);
  return Buffer.concat(parts);
}

void test("spool: memory first, then an unlinked temp file; order preserved", async () => {
  const dir = mkdtempSync(join(tmpdir(), "spool-"));
  try {
    let resumed = 0;
    const s = new ResponseSpool({ memory: 3000, maxFile: 1 << 30, tempPath: dir }, () => resumed++);
    const want: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const c = chunk(i);
      want.push(c);
      assert.equal(s.data(c), true, "never pauses below the file limit");
    }
    s.end();
    await s.done;
    assert.ok(s.spilled > 40_000, `spilled ${s.spilled}`);
    assert.deepEqual(readdirSync(dir), [], "the temp file is unlinked at once");
    const got = await drain(s);
    assert.ok(got.equals(Buffer.concat(want)));
    await s.dispose();
    assert.equal(resumed, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("spool: with no temp file allowed the upstream is paused at the memory limit and resumed", async () => {
  let resumed = 0;
  const s = new ResponseSpool({ memory: 2500, maxFile: 0, tempPath: null }, () => resumed++);
  assert.equal(s.data(chunk(0)), true);
  assert.equal(s.data(chunk(1)), true);
  assert.equal(s.data(chunk(2)), false, "pause at 3000 >= 2500");
  const it = s.chunks();
  await it.next();
  assert.equal(resumed, 1, "reading below the limit resumes the upstream");
  s.end();
  let rest = 0;
  for await (const c of it) rest += c.length;
  assert.equal(rest, 2000);
});

void test("spool: an upstream failure surfaces to the reader after the data already received", async () => {
  const s = new ResponseSpool({ memory: 1 << 20, maxFile: 0, tempPath: null }, () => {});
  s.data(chunk(0));
  s.error(new Error("upstream prematurely closed connection"));
  const it = s.chunks();
  assert.equal(((await it.next()).value as Buffer | undefined)?.length, 1000);
  await assert.rejects(it.next(), /prematurely/);
});
