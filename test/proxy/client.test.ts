import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Duplex } from "node:stream";
import { UpstreamClients, dispatchUpstream, type UpstreamUpgrade } from "../../src/proxy/client.js";
import type { UpstreamResponse } from "../../src/proxy/failure.js";
import { rawRequest } from "../helpers/raw.js";
import { UpstreamGroup } from "../../src/proxy/upstream.js";
import { front, get, spec, upstream } from "./helpers.js";
import { createServer as netServer } from "node:net";

const base = {
  method: "GET",
  path: "/ws",
  body: null,
  close: true,
  readTimeout: 2000,
  sendTimeout: 2000,
} as const;

void test("undici upgrade: a 101 hands over the socket; a refusal is an ordinary response", async () => {
  const sockets: Duplex[] = [];
  const srv = createServer((req, res) => {
    res.writeHead(426, { "Content-Length": "2" });
    res.end("no");
  });
  srv.on("upgrade", (req, socket: Duplex) => {
    sockets.push(socket);
    if (req.url === "/refuse") {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
      return;
    }
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
    );
    socket.on("data", (d: Buffer) => socket.write(d));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const clients = new UpstreamClients();
  const pool = clients.pool({
    scheme: "http",
    host: "127.0.0.1",
    port,
    socketPath: null,
    connectTimeout: 1000,
    keepaliveTimeout: 1000,
    keepaliveRequests: 10,
  });
  try {
    const up = (await dispatchUpstream(
      pool,
      { ...base, headers: [["Host", "x"]], upgrade: "echo" },
      () => {},
    ).result) as UpstreamUpgrade;
    assert.equal(up.status, 101);
    assert.ok(up.headers.some(([n, v]) => n.toLowerCase() === "upgrade" && v === "echo"));
    up.socket.write("abc");
    const echoed = await new Promise<string>((r) =>
      up.socket.once("data", (d: Buffer) => {
        r(d.toString());
      }),
    );
    assert.equal(echoed, "abc");
    up.socket.destroy();

    const no = (await dispatchUpstream(
      pool,
      { ...base, path: "/refuse", headers: [["Host", "x"]], upgrade: "echo" },
      () => {},
    ).result) as UpstreamResponse;
    assert.equal(no.status, 403);
    const body = await new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      no.attach({
        data: (c) => (parts.push(c), true),
        end: () => {
          resolve(Buffer.concat(parts).toString());
        },
        error: () => {
          resolve("error");
        },
      });
    });
    assert.equal(body, "no");
  } finally {
    for (const s of sockets) s.destroy();
    await clients.destroy();
    srv.closeAllConnections();
    await new Promise<void>((r) =>
      srv.close(() => {
        r();
      }),
    );
  }
});

void test("an invalid upstream reply is 502; retried only with proxy_next_upstream invalid_header", async () => {
  let garbageHits = 0;
  const garbage = netServer((s) => {
    garbageHits++;
    s.on("error", () => {});
    s.once("data", () => s.end("HTTP/1.1 2x0 Nope\r\n\r\n"));
  });
  await new Promise<void>((r) => garbage.listen(0, "127.0.0.1", r));
  const gport = (garbage.address() as { port: number }).port;
  const good = await upstream((_q, res) => {
    res.end("good");
  });
  const servers = [{ address: `127.0.0.1:${gport}` }, { address: good.address }];
  const strict = await front({ pass: "http://app" }, [new UpstreamGroup(spec("app", servers))]);
  const lenient = await front(
    {
      pass: "http://app",
      nextUpstream: {
        error: true,
        timeout: true,
        invalidHeader: true,
        statuses: new Set(),
        nonIdempotent: false,
      },
    },
    [new UpstreamGroup(spec("app", servers))],
  );
  try {
    const r = await rawRequest(strict.port, get("/"));
    assert.equal(r.responses[0]!.status, 502);
    assert.equal(good.seen.length, 0);
    const r2 = await rawRequest(lenient.port, get("/"));
    assert.equal(r2.responses[0]!.status, 200);
    assert.equal(r2.responses[0]!.text, "good");
    assert.equal(lenient.outcomes[0]!.upstream.status, "502, 200");
    assert.equal(garbageHits, 2);
  } finally {
    await strict.close();
    await lenient.close();
    await good.close();
    await new Promise<void>((r) =>
      garbage.close(() => {
        r();
      }),
    );
  }
});

void test("pools for many distinct targets are bounded: idle least-recently-used ones are closed", async () => {
  const clients = new UpstreamClients();
  const opts = {
    scheme: "http" as const,
    host: "127.0.0.1",
    socketPath: null,
    connectTimeout: 1000,
    keepaliveTimeout: 1000,
    keepaliveRequests: 10,
  };
  const first = clients.pool({ ...opts, port: 1 });
  for (let port = 2; port <= 300; port++) {
    clients.pool({ ...opts, port });
    if (port % 100 === 0) clients.pool({ ...opts, port: 1 }); // keep port 1 recent
  }
  assert.ok(clients.size <= 256, `size ${clients.size}`);
  assert.equal(clients.pool({ ...opts, port: 1 }), first, "a recently used pool survives");
  await clients.destroy();
});
