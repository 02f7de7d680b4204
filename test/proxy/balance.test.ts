import { test } from "node:test";
import assert from "node:assert/strict";
import { UpstreamGroup } from "../../src/proxy/upstream.js";
import { buildChashRing, findChashPoint, ipHashBytes } from "../../src/proxy/balance.js";
import {
  SERVER_DEFAULTS,
  type BalanceSpec,
  type UpstreamServerSpec,
} from "../../src/proxy/types.js";

type S = Partial<UpstreamServerSpec> & { address: string };
function group(
  servers: S[],
  balance: BalanceSpec = "round_robin",
  clock: { t: number } = { t: 1_000_000 },
  random?: () => number,
) {
  return new UpstreamGroup(
    {
      name: "g",
      servers: servers.map((s) => ({ ...SERVER_DEFAULTS, ...s })),
      balance,
      keepalive: null,
      keepaliveTimeout: 60_000,
      keepaliveRequests: 1000,
    },
    random === undefined ? { now: () => clock.t } : { now: () => clock.t, random },
  );
}
const noVars = () => null;

/** n requests, each picking one peer and releasing it as ok. */
function sequence(g: UpstreamGroup, n: number, client = "10.0.0.1"): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const sel = g.begin(client, noVars);
    const p = sel.next();
    out.push(p === null ? "-" : p.address);
    if (p !== null) sel.release(p, "ok");
  }
  return out;
}

void test("smooth weighted round robin: weights 5,1,1 give a a b a c a a (nginx)", () => {
  const g = group([
    { address: "a", weight: 5 },
    { address: "b", weight: 1 },
    { address: "c", weight: 1 },
  ]);
  assert.deepEqual(sequence(g, 14), [
    "a",
    "a",
    "b",
    "a",
    "c",
    "a",
    "a",
    "a",
    "a",
    "b",
    "a",
    "c",
    "a",
    "a",
  ]);
});

void test("round robin: equal weights alternate; weights 2,1 give a b a", () => {
  assert.deepEqual(sequence(group([{ address: "a" }, { address: "b" }, { address: "c" }]), 6), [
    "a",
    "b",
    "c",
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(sequence(group([{ address: "a", weight: 2 }, { address: "b" }]), 6), [
    "a",
    "b",
    "a",
    "a",
    "b",
    "a",
  ]);
});

void test("down servers are never picked", () => {
  const g = group([{ address: "a", down: true }, { address: "b" }, { address: "c" }]);
  assert.deepEqual(sequence(g, 4), ["b", "c", "b", "c"]);
});

void test("passive health: max_fails within fail_timeout takes a peer out, then back in", () => {
  const clock = { t: 1_000_000 };
  const g = group(
    [
      { address: "a", maxFails: 2, failTimeout: 10_000 },
      { address: "b", maxFails: 2, failTimeout: 10_000 },
    ],
    "round_robin",
    clock,
  );
  const a = g.primary[0]!;
  // two failures of a
  for (let i = 0; i < 2; i++) {
    const sel = g.begin("x", noVars);
    let p = sel.next()!;
    if (p.address !== "a") {
      sel.release(p, "ok");
      p = g.begin("x", noVars).next()!;
    }
    assert.equal(p.address, "a");
    sel.release(p, "failed");
  }
  assert.equal(a.fails, 2);
  assert.equal(a.failedAt(clock.t), true);
  // within fail_timeout: only b
  clock.t += 5_000;
  assert.deepEqual(sequence(g, 4), ["b", "b", "b", "b"]);
  // after fail_timeout: a gets a request again, success clears fails
  clock.t += 5_001;
  const seq = sequence(g, 4);
  assert.ok(seq.includes("a"), seq.join());
  assert.equal(a.fails, 0);
});

void test("passive health: a failure after recovery disables the peer for another fail_timeout", () => {
  const clock = { t: 1_000_000 };
  const g = group(
    [
      { address: "a", maxFails: 1, failTimeout: 1000 },
      { address: "b", maxFails: 1, failTimeout: 1000 },
    ],
    "round_robin",
    clock,
  );
  const a = g.primary[0]!;
  let sel = g.begin("x", noVars);
  let p = sel.next()!;
  assert.equal(p.address, "a");
  sel.release(p, "failed");
  assert.deepEqual(sequence(g, 3), ["b", "b", "b"]);
  clock.t += 1001;
  sel = g.begin("x", noVars);
  p = sel.next()!;
  // effective weight dropped to 0 on failure, so b still wins this round; keep asking
  let guard = 0;
  while (p.address !== "a" && guard++ < 5) {
    sel.release(p, "ok");
    sel = g.begin("x", noVars);
    p = sel.next()!;
  }
  assert.equal(p.address, "a");
  sel.release(p, "failed");
  assert.equal(a.failedAt(clock.t), true);
  clock.t += 500;
  assert.deepEqual(sequence(g, 2), ["b", "b"]);
});

void test("a single server is never marked failed and gets one try", () => {
  const g = group([{ address: "a", maxFails: 1 }]);
  const sel = g.begin("x", noVars);
  const p = sel.next()!;
  sel.release(p, "failed");
  assert.equal(p.fails, 0);
  assert.equal(sel.tries, 0);
  assert.deepEqual(sequence(g, 2), ["a", "a"]);
});

void test("retries within one request walk every server once, then backups, then give up", () => {
  const g = group([{ address: "a" }, { address: "b" }, { address: "c", backup: true }]);
  const sel = g.begin("x", noVars);
  assert.equal(sel.tries, 3);
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    const p = sel.next();
    if (p === null) {
      seen.push("-");
      break;
    }
    seen.push(p.address);
    sel.release(p, "failed");
  }
  assert.deepEqual(seen, ["a", "b", "c", "-"]);
  // the tier that ran dry (the backups) is reset "for quick recovery", as nginx
  assert.deepEqual(
    [...g.primary, ...g.backup].map((p) => p.fails),
    [1, 1, 0],
  );
  // with no backups the primaries are reset and the next request tries them again
  const h = group([{ address: "a" }, { address: "b" }]);
  const s2 = h.begin("x", noVars);
  for (let p = s2.next(); p !== null; p = s2.next()) s2.release(p, "failed");
  assert.deepEqual(
    h.primary.map((p) => p.fails),
    [0, 0],
  );
  assert.notEqual(h.begin("x", noVars).next(), null);
});

void test("backup servers serve only while every primary is unavailable", () => {
  const clock = { t: 1_000_000 };
  const g = group(
    [{ address: "a" }, { address: "b" }, { address: "bk", backup: true }],
    "round_robin",
    clock,
  );
  assert.deepEqual(sequence(g, 4), ["a", "b", "a", "b"]);
  for (const peer of g.primary) {
    peer.fails = 1;
    peer.checked = clock.t;
  }
  assert.deepEqual(sequence(g, 2), ["bk", "bk"]);
  clock.t += 10_001;
  const back = sequence(g, 2);
  assert.ok(!back.includes("bk"), back.join());
});

void test("max_conns: a full peer is skipped; all full means no peer", () => {
  const g = group([
    { address: "a", maxConns: 1 },
    { address: "b", maxConns: 1 },
  ]);
  const s1 = g.begin("x", noVars);
  const s2 = g.begin("x", noVars);
  const s3 = g.begin("x", noVars);
  const p1 = s1.next()!;
  const p2 = s2.next()!;
  assert.notEqual(p1.address, p2.address);
  assert.equal(s3.next(), null);
  s1.release(p1, "ok");
  assert.equal(g.begin("x", noVars).next()!.address, p1.address);
});

void test("least_conn picks the peer with fewest active requests relative to weight", () => {
  const g = group([{ address: "a" }, { address: "b" }, { address: "c", weight: 2 }], "least_conn");
  const held: string[] = [];
  for (let i = 0; i < 4; i++) held.push(g.begin("x", noVars).next()!.address); // never released
  // a:1 b:1 c:2 (c has weight 2) after four, in round-robin order among ties
  assert.deepEqual(
    g.primary.map((p) => p.conns),
    [1, 1, 2],
  );
  assert.equal(held.filter((h) => h === "c").length, 2);
  const s = g.begin("x", noVars);
  const p = s.next()!;
  s.release(p, "ok");
  // finishing one of a's requests makes a the least loaded
  g.primary[0]!.conns--;
  assert.equal(g.begin("x", noVars).next()!.address, "a");
});

void test("ip_hash: nginx's hash of the first three IPv4 octets", () => {
  assert.deepEqual(ipHashBytes("192.168.1.77"), [192, 168, 1]);
  assert.deepEqual(ipHashBytes("::ffff:10.1.2.3"), [10, 1, 2]);
  assert.equal(ipHashBytes("::1").length, 16);
  assert.deepEqual(ipHashBytes(""), []);
  const g = group([{ address: "a" }, { address: "b" }, { address: "c" }], "ip_hash");
  // the same /24 always maps to the same server
  const pick = (ip: string) => sequence(g, 1, ip)[0];
  assert.equal(pick("192.168.1.1"), pick("192.168.1.250"));
  // hand-computed as nginx: hash=89; for each octet hash=(hash*113+o)%6271; w=hash%3
  let h = 89;
  for (const o of [192, 168, 1]) h = (h * 113 + o) % 6271;
  assert.equal(pick("192.168.1.9"), ["a", "b", "c"][h % 3]);
  const spread = new Set<string>();
  for (let i = 0; i < 40; i++) spread.add(pick(`10.0.${i}.1`)!);
  assert.equal(spread.size, 3);
});

void test("ip_hash skips an unusable peer by rehashing", () => {
  const g = group([{ address: "a" }, { address: "b" }, { address: "c" }], "ip_hash");
  const first = sequence(g, 1, "192.168.1.9")[0]!;
  const idx = ["a", "b", "c"].indexOf(first);
  const peer = g.primary[idx]!;
  peer.fails = 1;
  peer.checked = Date.now() + 10 ** 9; // within the window for the fixed clock
  const again = sequence(g, 1, "192.168.1.9")[0]!;
  assert.notEqual(again, first);
});

void test("hash KEY: stable per key, spread across keys", () => {
  const key = (v: (n: string) => string | null) => v("request_uri") ?? "";
  const g = group([{ address: "a" }, { address: "b" }, { address: "c" }], {
    hash: key,
    consistent: false,
  });
  const pick = (uri: string) => {
    const sel = g.begin("x", (n) => (n === "request_uri" ? uri : null));
    const p = sel.next()!;
    sel.release(p, "ok");
    return p.address;
  };
  assert.equal(pick("/a"), pick("/a"));
  const spread = new Set<string>();
  for (let i = 0; i < 30; i++) spread.add(pick(`/k${i}`));
  assert.equal(spread.size, 3);
});

void test("consistent hash ring: 160 points per weight, removing a server moves only its keys", () => {
  const key = (v: (n: string) => string | null) => v("k") ?? "";
  const three = group(
    [{ address: "10.0.0.1:80" }, { address: "10.0.0.2:80" }, { address: "10.0.0.3:80", weight: 2 }],
    { hash: key, consistent: true },
  );
  assert.equal(three.ring.length, 160 * 4);
  for (let i = 1; i < three.ring.length; i++)
    assert.ok(three.ring[i - 1]!.hash < three.ring[i]!.hash);
  assert.equal(findChashPoint(three.ring, 0), 0);
  assert.equal(findChashPoint(three.ring, 0xffffffff), three.ring.length);
  const pick = (g: UpstreamGroup, k: string) => {
    const sel = g.begin("x", (n) => (n === "k" ? k : null));
    const p = sel.next()!;
    sel.release(p, "ok");
    return p.address;
  };
  const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
  const before = keys.map((k) => pick(three, k));
  // take server 2 down: its keys move, the others stay
  const two = group(
    [
      { address: "10.0.0.1:80" },
      { address: "10.0.0.2:80", down: true },
      { address: "10.0.0.3:80", weight: 2 },
    ],
    { hash: key, consistent: true },
  );
  let moved = 0;
  keys.forEach((k, i) => {
    const now = pick(two, k);
    if (before[i] !== "10.0.0.2:80") assert.equal(now, before[i], k);
    else moved++;
  });
  assert.ok(moved > 30 && moved < 150, `moved ${moved}`);
  // the ring is nginx's: same points for the same server list
  assert.deepEqual(buildChashRing(three.primary).slice(0, 3), three.ring.slice(0, 3));
});

void test("random picks by weight and skips unusable peers", () => {
  let r = 0;
  const seq = [0.0, 0.5, 0.99];
  const g = group(
    [{ address: "a" }, { address: "b", weight: 2 }],
    "random",
    { t: 1 },
    () => seq[r++ % seq.length]!,
  );
  assert.deepEqual(sequence(g, 3), ["a", "b", "b"]);
  const d = group([{ address: "a", down: true }, { address: "b" }], "random", { t: 1 }, () => 0);
  assert.deepEqual(sequence(d, 2), ["b", "b"]);
});
