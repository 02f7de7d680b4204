import { test } from "node:test";
import assert from "node:assert/strict";
import { rawRequest, RawClient } from "../helpers/raw.js";
import { UpstreamGroup } from "../../src/proxy/upstream.js";
import { deadPort, front, get, sleep, spec, upstream } from "./helpers.js";

void test("proxy_pass with variables: a URI part is sent exactly as evaluated", async () => {
  const up = await upstream((req, res) => {
    res.end(req.url);
  });
  const px = await front({
    pass: (v) => `http://127.0.0.1:${up.port}/fixed${v("request_uri") ?? ""}`,
  });
  const pxNoUri = await front({ pass: () => `http://127.0.0.1:${up.port}` });
  try {
    assert.equal((await rawRequest(px.port, get("/a?b=1"))).responses[0]!.text, "/fixed/a?b=1");
    assert.equal((await rawRequest(pxNoUri.port, get("/c%2Fd?e"))).responses[0]!.text, "/c%2Fd?e");
  } finally {
    await px.close();
    await pxNoUri.close();
    await up.close();
  }
});

void test("proxy_next_upstream_tries caps the servers tried; off never retries", async () => {
  const d1 = await deadPort();
  const d2 = await deadPort();
  const up = await upstream((_q, res) => {
    res.end("ok");
  });
  const servers = [
    { address: `127.0.0.1:${d1}` },
    { address: `127.0.0.1:${d2}` },
    { address: up.address },
  ];
  const px = await front({ pass: "http://app", nextUpstreamTries: 2 }, [
    new UpstreamGroup(spec("app", servers)),
  ]);
  const pxOff = await front({ pass: "http://app", nextUpstream: null }, [
    new UpstreamGroup(spec("app", servers)),
  ]);
  try {
    const r = await rawRequest(px.port, get("/"));
    assert.equal(r.responses[0]!.status, 502);
    assert.equal(px.outcomes[0]!.upstream.addr, `127.0.0.1:${d1}, 127.0.0.1:${d2}`);
    const r2 = await rawRequest(pxOff.port, get("/"));
    assert.equal(r2.responses[0]!.status, 502);
    assert.equal(pxOff.outcomes[0]!.upstream.addr, `127.0.0.1:${d1}`);
    assert.equal(up.seen.length, 0);
  } finally {
    await px.close();
    await pxOff.close();
    await up.close();
  }
});

void test("proxy_request_buffering off streams the body (Content-Length kept) before it has all arrived", async () => {
  let firstByteAt = 0;
  const up = await upstream((_q, res, body) => {
    res.end(`${body.length}`);
  });
  up.server.on("request", (req) => {
    req.once("data", () => (firstByteAt = Date.now()));
  });
  const px = await front({ pass: `http://${up.address}`, requestBuffering: false });
  try {
    const c = await RawClient.connect(px.port);
    await c.write(
      "PUT /u HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 10\r\n\r\nhello",
    );
    await sleep(300);
    const sentRestAt = Date.now();
    assert.ok(
      firstByteAt > 0 && firstByteAt < sentRestAt,
      "upstream saw the first half before the second was sent",
    );
    await c.write("world");
    const res = await c.response(0);
    assert.equal(res.text, "10");
    assert.equal(
      up.seen[0]!.headers.find(([n]) => n.toLowerCase() === "content-length")?.[1],
      "10",
    );
    c.destroy();
  } finally {
    await px.close();
    await up.close();
  }
});

void test("a client that goes away while the upstream works makes the proxy close the upstream request", async () => {
  let upstreamClosed = false;
  const up = await upstream((req, res) => {
    res.on("close", () => (upstreamClosed = !res.writableFinished));
    setTimeout(() => {
      if (!res.destroyed) res.end("late");
    }, 1500);
  });
  const px = await front({ pass: `http://${up.address}` });
  try {
    const c = await RawClient.connect(px.port);
    await c.write(get("/slow"));
    await sleep(150);
    // RST: the connection is gone for sure (a FIN alone is a half-close to the front end).
    c.socket.resetAndDestroy();
    for (let i = 0; i < 100 && !upstreamClosed; i++) await sleep(10);
    assert.equal(upstreamClosed, true);
    assert.equal(px.outcomes[0]?.status, 499);
  } finally {
    await px.close();
    await up.close();
  }
});

void test("HEAD is relayed with the upstream's Content-Length and no body", async () => {
  const up = await upstream((_q, res) => {
    res.setHeader("Content-Length", "1234");
    res.end();
  });
  const px = await front({ pass: `http://${up.address}` });
  try {
    const r = await rawRequest(px.port, "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {
      methods: ["HEAD"],
    });
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.header("content-length"), "1234");
    assert.equal(r.responses[0]!.body.length, 0);
    assert.equal(up.seen[0]!.method, "HEAD");
  } finally {
    await px.close();
    await up.close();
  }
});

void test("backup server takes over only while the primary is down, then the primary is back after fail_timeout", async () => {
  const primary = await upstream((_q, res) => {
    res.end("primary");
  });
  const backup = await upstream((_q, res) => {
    res.end("backup");
  });
  const port = primary.port;
  const g = new UpstreamGroup(
    spec("app", [
      { address: primary.address, failTimeout: 400 },
      { address: `127.0.0.1:${await deadPort()}`, failTimeout: 400 },
      { address: backup.address, backup: true },
    ]),
  );
  const px = await front({ pass: "http://app" }, [g]);
  try {
    const body = async (): Promise<string> =>
      (await rawRequest(px.port, get("/"))).responses[0]!.text;
    assert.equal(await body(), "primary");
    await primary.close();
    const during = [await body(), await body(), await body()];
    assert.deepEqual(during, ["backup", "backup", "backup"]);
    // restart the primary on the same port; after fail_timeout it is used again
    const { createServer } = await import("node:http");
    const again = createServer((_q, res) => res.end("primary"));
    await new Promise<void>((r) => again.listen(port, "127.0.0.1", r));
    await sleep(450);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push(await body());
    assert.ok(after.includes("primary"), after.join());
    again.closeAllConnections();
    await new Promise<void>((r) =>
      again.close(() => {
        r();
      }),
    );
  } finally {
    await px.close();
    await backup.close();
  }
});

void test("proxy_send_timeout: an upstream that stops reading the body gets 504 (not the read timeout)", async () => {
  const { createServer } = await import("node:net");
  const held: import("node:net").Socket[] = [];
  const sink = createServer((s) => {
    held.push(s);
    s.pause(); // accept, never read
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const port = (sink.address() as { port: number }).port;
  const px = await front(
    { pass: `http://127.0.0.1:${port}`, sendTimeout: 300, readTimeout: 20_000 },
    [],
    "/",
    {
      maxBodySize: 64 * 1024 * 1024,
    },
  );
  try {
    const size = 48 * 1024 * 1024;
    const c = await RawClient.connect(px.port);
    const t0 = Date.now();
    void c.write(
      `PUT /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`,
    );
    void c.write(Buffer.alloc(size, 0x62));
    const res = await c.response(0, 15_000);
    assert.equal(res.status, 504);
    assert.ok(Date.now() - t0 < 10_000);
    c.destroy();
  } finally {
    await px.close();
    for (const s of held) s.destroy();
    await new Promise<void>((r) =>
      sink.close(() => {
        r();
      }),
    );
  }
});

void test("keep-alive race: a reused connection closed under a GET is retried once on a fresh one", async () => {
  const { createServer } = await import("node:net");
  let served = 0;
  const conns = new Set<import("node:net").Socket>();
  // Answers the first request of each connection with keep-alive, and drops the
  // connection silently when a second request arrives on it.
  const srv = createServer((s) => {
    conns.add(s);
    let n = 0;
    s.on("error", () => {});
    s.on("data", () => {
      if (++n === 1) {
        served++;
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      } else s.destroy();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const g = new UpstreamGroup(spec("ka", [{ address: `127.0.0.1:${port}` }], { keepalive: 4 }));
  const px = await front(
    { pass: "http://ka", httpVersion: "1.1", setHeaders: [["Connection", () => ""]] },
    [g],
  );
  try {
    for (let i = 0; i < 3; i++) {
      const r = await rawRequest(px.port, get("/"));
      assert.equal(r.responses[0]!.status, 200, `request ${i}`);
    }
    assert.equal(served, 3);
    assert.equal(px.outcomes[1]!.upstream.status, "502, 200");
    // a POST is not replayed, even then
    const r = await rawRequest(
      px.port,
      "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    );
    assert.equal(r.responses[0]!.status, 502);
  } finally {
    await px.close();
    for (const s of conns) s.destroy();
    await new Promise<void>((r) =>
      srv.close(() => {
        r();
      }),
    );
  }
});

void test("proxy_connect_timeout: a server whose accept queue is full times out (504) and the next one is tried", async (t) => {
  const { spawn } = await import("node:child_process");
  const { connect } = await import("node:net");
  // A listener with a zero backlog that never accepts: once one connection waits in its
  // queue, the kernel drops further SYNs and connect() hangs, as with a dead host.
  const py = spawn("python3", [
    "-c",
    "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(20)",
  ]);
  const port = await new Promise<number>((resolve) => {
    py.stdout.once("data", (d: Buffer) => {
      resolve(Number(d.toString().trim()));
    });
    py.once("error", () => {
      resolve(0);
    });
  });
  if (port === 0) {
    t.skip("python3 not available");
    return;
  }
  const filler = connect({ host: "127.0.0.1", port });
  filler.on("error", () => {});
  await new Promise((r) => filler.once("connect", r));
  const good = await upstream((_q, res) => {
    res.end("ok");
  });
  const hole = `127.0.0.1:${port}`;
  const single = await front({ pass: `http://${hole}`, connectTimeout: 300 });
  const pair = await front({ pass: "http://app", connectTimeout: 300 }, [
    new UpstreamGroup(spec("app", [{ address: hole }, { address: good.address }])),
  ]);
  try {
    const t0 = Date.now();
    const r = await rawRequest(single.port, get("/"), { timeoutMs: 5000 });
    assert.equal(r.responses[0]!.status, 504);
    assert.ok(Date.now() - t0 < 3000);
    const r2 = await rawRequest(pair.port, get("/"), { timeoutMs: 5000 });
    assert.equal(r2.responses[0]!.status, 200);
    assert.equal(pair.outcomes[0]!.upstream.status, "504, 200");
  } finally {
    await single.close();
    await pair.close();
    await good.close();
    filler.destroy();
    py.kill();
  }
});
