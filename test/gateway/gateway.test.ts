/**
 * The gateway with real Python workers (test/apps/misc.py) over real sockets: streaming,
 * file hand-off, app errors, body spooling, client aborts, the bounded queue.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient, rawRequest } from "../helpers/raw.js";
import { recordFor, sleep, startGateway, type TestGateway } from "./harness.js";

/** One worker, one thread, a queue of 4: where pipelining to the worker and queueing show. */
const oneThread = (
  pipeline: number,
  settings: NonNullable<Parameters<typeof startGateway>[0]["settings"]> = {},
): Promise<TestGateway> =>
  startGateway({ app: "misc:app", workers: 1, threads: 1, maxQueue: 4, pipeline, settings });

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

void describe("gateway with misc:app, 2 workers x 2 threads", () => {
  let gw: TestGateway;
  let spill: string;
  before(async () => {
    spill = mkdtempSync(join(tmpdir(), "narwhal-spill-"));
    gw = await startGateway({
      app: "misc:app",
      workers: 2,
      threads: 2,
      bodyBufferSize: 64 * 1024,
      bodyTempDir: spill,
    });
  });
  after(async () => {
    await gw.stop();
    rmSync(spill, { recursive: true, force: true });
  });

  void test("a one-chunk body gets a Content-Length", async () => {
    const r = await rawRequest(gw.port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", { count: 1 });
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.header("content-length"), "6");
    assert.equal(r.responses[0]?.text, "hello\n");
  });

  void test("a streaming response arrives chunk by chunk, as the app yields", async () => {
    const c = await RawClient.connect(gw.port);
    try {
      const t0 = performance.now();
      await c.write("GET /stream?n=4&delay=0.3 HTTP/1.1\r\nHost: x\r\n\r\n");
      // The first chunk must be on the wire long before the last one is produced (0.9 s).
      assert.ok(await c.until(() => c.raw.includes("chunk 0\n"), 3000));
      const first = performance.now() - t0;
      assert.ok(!c.raw.includes("chunk 3\n"), "later chunks not yet produced");
      const r = await c.response(0, 5000);
      const total = performance.now() - t0;
      assert.equal(r.header("transfer-encoding"), "chunked");
      assert.equal(r.text, "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
      assert.ok(first < total - 450, `first chunk after ${first} ms, last after ${total} ms`);
      assert.ok(total >= 850, `whole response after ${total} ms`);
    } finally {
      c.destroy();
    }
  });

  void test("wsgi.file_wrapper: the file is sent by Node from disk (hand-off), bytes exact", async () => {
    const res = await fetch(gw.url("/file"));
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "200000");
    assert.equal(body.length, 200000);
    assert.deepEqual(body, Buffer.from(Array.from({ length: 200000 }, (_, i) => i % 253)));
    const rec = await recordFor(gw, "/file");
    assert.equal(rec.fileHandOff, true);
    assert.equal(rec.outcome, "ok");
  });

  void test("an app exception is a 500 with the traceback in the error log", async () => {
    const res = await fetch(gw.url("/crash"));
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    const log = gw.log.text();
    assert.match(log, /Error handling request \/crash: ValueError: misc crash: deliberate failure/);
    assert.match(log, /File ".*misc\.py", line \d+, in crash/);
  });

  void test("an exception after the first chunk cuts the response (no terminating chunk)", async () => {
    const r = await rawRequest(gw.port, "GET /stream-crash HTTP/1.1\r\nHost: x\r\n\r\n", {
      timeoutMs: 3000,
    });
    const raw = r.raw.toString("latin1");
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /Transfer-Encoding: chunked\r\n/);
    assert.match(raw, /\r\n\r\n8\r\npartial\n\r\n$/, "the chunk sent, then nothing");
    assert.equal(r.closed, true);
    assert.equal(r.timedOut, false);
    assert.match(gw.log.text(), /RuntimeError: misc stream crash: deliberate failure mid-stream/);
  });

  void test("head, chunk and APP_ERROR in quick succession: a 500 or a cut, never a crash", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await rawRequest(gw.port, "GET /stream-crash-now HTTP/1.1\r\nHost: x\r\n\r\n", {
        timeoutMs: 3000,
      });
      const raw = r.raw.toString("latin1");
      assert.equal(r.timedOut, false);
      if (/^HTTP\/1\.1 500 /.test(raw)) continue; // all in one read: nothing was written yet
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(raw, /\r\n\r\n8\r\npartial\n\r\n$/, "the chunk sent, then nothing");
      assert.equal(r.closed, true);
    }
    const res = await fetch(gw.url("/hello"));
    assert.equal(await res.text(), "hello\n");
  });

  void test("CR LF in a header value from the app is a 500, never a split response", async () => {
    const r = await rawRequest(gw.port, "GET /bad-header HTTP/1.1\r\nHost: x\r\n\r\n", {
      count: 1,
    });
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0]?.status, 500);
    assert.doesNotMatch(r.raw.toString("latin1"), /Injected/);
  });

  void test("the app's prints reach the error log", async () => {
    const res = await fetch(gw.url("/print"));
    assert.equal(await res.text(), "hello\n");
    await sleep(100);
    assert.ok(gw.log.lines.includes("misc printer says hi on stdout"));
    assert.ok(gw.log.lines.includes("misc printer says hi on stderr"));
  });

  void test("a small body travels in memory, a large one through a temp file that is deleted", async () => {
    const small = Buffer.alloc(1000, 7);
    const r1 = await fetch(gw.url("/digest"), { method: "POST", body: small });
    assert.equal(await r1.text(), `1000 ${sha(small)}`);
    const big = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7) % 256));
    const r2 = await fetch(gw.url("/digest"), { method: "POST", body: big });
    assert.equal(await r2.text(), `${big.length} ${sha(big)}`);
    assert.equal((await recordFor(gw, "/digest", (r) => r.bodyLength === 1000)).bodySpilled, false);
    assert.equal(
      (await recordFor(gw, "/digest", (r) => r.bodyLength === big.length)).bodySpilled,
      true,
    );
    // Deleted once the worker's terminal frame is in (asynchronously): poll briefly.
    for (let i = 0; i < 100 && readdirSync(spill).length > 0; i++) await sleep(20);
    assert.deepEqual(readdirSync(spill), []);
  });

  void test("a chunked request body is de-chunked and sized for the app", async () => {
    const r = await rawRequest(
      gw.port,
      "POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      { count: 1 },
    );
    assert.equal(r.responses[0]?.text, `11 ${sha(Buffer.from("hello world"))}`);
  });

  void test("a client that leaves mid-stream frees the worker thread (ABORT closes the iterable)", async () => {
    // 4 threads in all; occupy each with a 10 s stream, then leave.
    const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(gw.port)));
    for (const c of clients)
      await c.write("GET /stream?n=100&delay=0.1 HTTP/1.1\r\nHost: x\r\n\r\n");
    for (const c of clients) assert.ok(await c.until(() => c.raw.includes("chunk 0"), 3000));
    for (const c of clients) c.destroy();
    const t0 = performance.now();
    const res = await fetch(gw.url("/hello"));
    assert.equal(await res.text(), "hello\n");
    assert.ok(performance.now() - t0 < 2000, "a thread was free again");
    await sleep(300);
    for (const w of gw.arbiter.pids()) assert.ok(w > 0);
    assert.equal(
      gw.records
        .filter((r) => r.target.startsWith("/stream?n=100"))
        .every((r) => r.record.outcome === "client_gone"),
      true,
    );
  });

  void test("HTTP/1.0: a streamed body without Content-Length is close-delimited", async () => {
    const r = await rawRequest(gw.port, "GET /stream?n=3&delay=0.05 HTTP/1.0\r\n\r\n");
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.header("transfer-encoding"), null);
    assert.equal(r.responses[0]?.header("content-length"), null);
    assert.equal(r.responses[0]?.text, "chunk 0\nchunk 1\nchunk 2\n");
    assert.equal(r.closed, true);
  });

  void test("Expect: 100-continue: the gateway reads the body, so the client gets 100 first", async () => {
    const c = await RawClient.connect(gw.port);
    try {
      await c.write(
        "POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      );
      const interim = await c.response(0);
      assert.equal(interim.status, 100);
      await c.write("hello");
      const r = await c.response(1);
      assert.equal(r.status, 200);
      assert.equal(r.text, `5 ${sha(Buffer.from("hello"))}`);
    } finally {
      c.destroy();
    }
  });

  void test("HEAD gets the headers without a body", async () => {
    const r = await rawRequest(gw.port, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", {
      count: 1,
      methods: ["HEAD"],
    });
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.header("content-length"), "6");
    assert.equal(r.responses[0]?.body.length, 0);
  });
});

void describe("dispatch: least-loaded worker, bounded queue", () => {
  void test("requests spread over free workers; beyond threads + queue: 503 with Retry-After", async () => {
    // pipeline 0: a worker holds only `threads` requests, so the queue in Node is what is tested.
    const gw = await startGateway({
      app: "misc:app",
      workers: 2,
      threads: 1,
      maxQueue: 1,
      pipeline: 0,
    });
    try {
      // Two slow requests occupy both workers, a third waits in the queue, a fourth is refused.
      const slow = [fetch(gw.url("/sleep?s=1.5")), fetch(gw.url("/sleep?s=1.5"))];
      const until = async (cond: () => boolean): Promise<void> => {
        for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
        assert.ok(cond());
      };
      await until(() => gw.arbiter.inflight === 2);
      const queued = fetch(gw.url("/pid"));
      await until(() => gw.arbiter.queued === 1);
      const refused = await fetch(gw.url("/pid"));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "1");
      await refused.arrayBuffer();
      const pids = await Promise.all(slow.map(async (p) => (await p).text()));
      assert.notEqual(pids[0], pids[1], "the two slow requests went to different workers");
      const q = await queued;
      assert.equal(q.status, 200);
      await q.text();
      const rec = await recordFor(gw, "/pid", (r) => r.outcome === "ok");
      assert.ok(rec.queuedMs >= 200, `queued for ${rec.queuedMs} ms`);
    } finally {
      await gw.stop();
    }
  });
});

void test("a large in-memory body (above the inline limit) travels in BODY frames", async () => {
  const gw = await startGateway({ app: "misc:app", bodyBufferSize: 16 * 1024 * 1024 });
  try {
    const big = Buffer.from(Array.from({ length: 6 * 1024 * 1024 + 3 }, (_, i) => (i * 13) % 256));
    const r = await fetch(gw.url("/digest"), { method: "POST", body: big });
    assert.equal(await r.text(), `${big.length} ${sha(big)}`);
    const rec = await recordFor(gw, "/digest");
    assert.equal(rec.bodySpilled, false);
    assert.equal(rec.bodyLength, big.length);
  } finally {
    await gw.stop();
  }
});

void test("a client that leaves while queued is dropped from the queue, never reaching a worker", async () => {
  const gw = await startGateway({ app: "misc:app", workers: 1, threads: 1, pipeline: 0 });
  try {
    const slow = fetch(gw.url("/sleep?s=1"));
    for (let i = 0; i < 200 && gw.arbiter.inflight === 0; i++) await sleep(10);
    const c = await RawClient.connect(gw.port);
    await c.write("GET /pid?abandoned HTTP/1.1\r\nHost: x\r\n\r\n");
    for (let i = 0; i < 200 && gw.arbiter.queued === 0; i++) await sleep(10);
    assert.equal(gw.arbiter.queued, 1);
    // A reset: the front end sees the connection die. (A bare FIN is a half-close, which
    // HTTP lets a client do while it still waits for the answer.)
    c.socket.resetAndDestroy();
    for (let i = 0; i < 200 && gw.arbiter.queued === 1; i++) await sleep(10);
    assert.equal(gw.arbiter.queued, 0);
    assert.equal((await slow).status, 200);
    const rec = await recordFor(gw, "/pid?abandoned");
    assert.equal(rec.outcome, "client_gone");
    assert.equal(rec.workerPid, null);
  } finally {
    await gw.stop();
  }
});

void test("a body over client_max_body_size is a 413 and never reaches a worker", async () => {
  const gw = await startGateway({ app: "misc:app", settings: { client_max_body_size: 1024 } });
  try {
    const r = await rawRequest(
      gw.port,
      `POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"a".repeat(2048)}\r\n0\r\n\r\n`,
      { count: 1 },
    );
    assert.equal(r.responses[0]?.status, 413);
    const rec = await recordFor(gw, "/digest");
    assert.equal(rec.outcome, "body_error");
    assert.equal(rec.workerPid, null);
    assert.equal(gw.arbiter.inflight, 0);
  } finally {
    await gw.stop();
  }
});

void test("REQUESTs kept in Node while the worker's backlog is high go out as it drains (no stall)", async () => {
  // pipeline 4: the 5th request is granted but its REQUEST waits in Node until the
  // worker's backlog falls to threads + pipeline/2; the 6th and 7th wait in the queue.
  const gw = await oneThread(4);
  try {
    const t0 = performance.now();
    const done: number[] = [];
    const all = Array.from({ length: 7 }, () =>
      fetch(gw.url("/sleep?s=0.15")).then(async (r) => {
        assert.equal(r.status, 200);
        await r.arrayBuffer();
        done.push(performance.now() - t0);
      }),
    );
    await Promise.all(all);
    // One thread, 7 x 150 ms back to back: no request waited for anything but the others.
    const last = Math.max(...done);
    assert.ok(last < 2000, `the last answer came after ${Math.round(last)} ms`);
    assert.equal(gw.arbiter.inflight, 0);
    assert.equal(gw.arbiter.queued, 0);
  } finally {
    await gw.stop();
  }
});

void test("a request the protocol cannot carry (over 4096 header fields) is a 500, the worker serves on", async () => {
  // Raised --limit-request-fields lets 4100 fields through HTTP; REQUEST allows 4096.
  // One thread, pipeline 1: the bad request is granted from the queue, inside the
  // worker's read of a terminal frame, which must not be disturbed by it.
  const gw = await oneThread(1, { limit_request_fields: 5000 });
  try {
    const slow = [fetch(gw.url("/sleep?s=0.3")), fetch(gw.url("/sleep?s=0.3"))];
    for (let i = 0; i < 200 && gw.arbiter.inflight < 2; i++) await sleep(10);
    const fields = Array.from({ length: 4100 }, (_, i) => `X-F${i}: ${i}\r\n`).join("");
    const bad = rawRequest(gw.port, `GET /hello HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, {
      count: 1,
    });
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
    assert.equal((await bad).responses[0]?.status, 500);
    assert.match(gw.log.text(), /4101 header fields \(max 4096\)/);
    const res = await fetch(gw.url("/hello"));
    assert.equal(await res.text(), "hello\n");
    assert.equal(gw.arbiter.inflight, 0);
  } finally {
    await gw.stop();
  }
});

void test("a worker holds threads + pipeline requests: the next one waits inside it, then the Node queue", async () => {
  // pipeline 1 (the default is deeper): 2 in the worker, the third in Node's queue.
  const gw = await oneThread(1);
  try {
    const slow = [
      fetch(gw.url("/sleep?s=0.5")),
      fetch(gw.url("/sleep?s=0.5")),
      fetch(gw.url("/sleep?s=0.5")),
    ];
    for (let i = 0; i < 200 && gw.arbiter.inflight + gw.arbiter.queued < 3; i++) await sleep(10);
    assert.equal(gw.arbiter.inflight, 2);
    assert.equal(gw.arbiter.queued, 1);
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
  } finally {
    await gw.stop();
  }
});
