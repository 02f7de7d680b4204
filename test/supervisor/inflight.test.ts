/** The per-worker table of requests in flight (src/arbiter/inflight.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InflightTable } from "../../src/arbiter/inflight.js";

void test("inflight table: add, get, take; a late id never finds the request now in its slot", () => {
  const t = new InflightTable<string>(4);
  assert.equal(t.isFree(1), true);
  t.add(1, "a", 10);
  assert.equal(t.get(1), "a");
  assert.equal(t.has(1), true);
  assert.equal(t.take(1), "a");
  assert.equal(t.size, 0);
  // Id 5 shares slot 1 with id 1 (mask 3): a frame for the finished id 1 must not reach it.
  assert.equal(t.isFree(5), true);
  t.add(5, "b", 20);
  assert.equal(t.get(1), undefined);
  assert.equal(t.take(1), undefined);
  assert.equal(t.get(5), "b");
  assert.equal(t.isFree(9), false, "slot taken by id 5");
});

void test("inflight table: grows when half full, keeps every entry and its start time", () => {
  const t = new InflightTable<number>(2);
  // As Worker.attach picks them: counting up, skipping ids whose slot is taken.
  const ids: number[] = [];
  let next = 1;
  for (let n = 0; n < 40; n++) {
    while (!t.isFree(next)) next++;
    ids.push(next);
    t.add(next, next * 10, next + 0.5);
    next += n % 3 === 0 ? 7 : 1;
  }
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(t.size, ids.length);
  const seen: Array<[number, number, number]> = [];
  t.forEach((id, item, startedAt) => seen.push([id, item, startedAt]));
  seen.sort((a, b) => a[0] - b[0]);
  assert.deepEqual(
    seen,
    ids.map((id) => [id, id * 10, id + 0.5]),
  );
  for (const id of ids) assert.equal(t.get(id), id * 10);
  assert.deepEqual(
    t.clear().sort((a, b) => a - b),
    ids.map((id) => id * 10),
  );
  assert.equal(t.size, 0);
  for (const id of ids) assert.equal(t.get(id), undefined);
});
