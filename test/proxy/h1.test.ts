// The plain-socket upstream client: response parsing (head, framing, chunked) and the
// exchanges over real sockets (keep-alive reuse, keepalive_requests, early closes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, Socket as NetSocket, type Socket } from "node:net";
import { ChunkedDecoder, InvalidResponse, framingOf, parseHead } from "../../src/proxy/h1-parse.js";
import { PlainPool } from "../../src/proxy/h1-client.js";
import type { BodySink, UpstreamFailure, UpstreamResponse } from "../../src/proxy/failure.js";

function head(text: string): ReturnType<typeof parseHead> {
  const b = Buffer.from(text, "latin1");
  return parseHead(b, b.indexOf("\r\n\r\n"));
}

void test("parseHead: status line, fields as sent, framing fields", () => {
  const h = head(
    "HTTP/1.1 201 Created\r\nX-A:  one \r\nContent-Length: 5\r\nConnection: Close\r\n\r\n",
  );
  assert.equal(h.status, 201);
  assert.equal(h.statusText, "Created");
  assert.deepEqual(h.headers, [
    ["X-A", "one"],
    ["Content-Length", "5"],
    ["Connection", "Close"],
  ]);
  assert.equal(h.closeToken, true);
  assert.deepEqual(framingOf(h, "GET"), { kind: "length", length: 5 });
  assert.deepEqual(framingOf(h, "HEAD"), { kind: "none" });
  assert.equal(head("HTTP/1.0 200\r\n\r\n").statusText, "");
  assert.equal(head("HTTP/1.0 200\r\n\r\n").minor, 0);
  assert.deepEqual(framingOf(head("HTTP/1.1 200 OK\r\n\r\n"), "GET"), { kind: "close" });
  assert.deepEqual(framingOf(head("HTTP/1.1 204 No\r\nContent-Length: 3\r\n\r\n"), "GET"), {
    kind: "none",
  });
  // Transfer-Encoding wins over Content-Length; a final coding other than chunked reads to close.
  const te = head(
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
  );
  assert.deepEqual(framingOf(te, "GET"), { kind: "chunked" });
  assert.deepEqual(framingOf(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), "GET"), {
    kind: "close",
  });
  assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n").contentLength, 7);
});

void test("parseHead refuses what an upstream must not send", () => {
  for (const bad of [
    "HTTP/2.0 200 OK\r\n\r\n",
    "HTTP/1.1 20 OK\r\n\r\n",
    "ICY 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
    "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\r\n: b\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
  ]) {
    assert.throws(() => head(bad), InvalidResponse, JSON.stringify(bad));
  }
});

void test("chunked decoding survives every split point; extensions and trailers are dropped", () => {
  const wire = Buffer.from(
    "5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n",
    "latin1",
  );
  for (let cut = 0; cut <= wire.length; cut++) {
    for (const step of [1, 3, wire.length]) {
      const out: Buffer[] = [];
      const d = new ChunkedDecoder((p) => out.push(Buffer.from(p)));
      const parts = [wire.subarray(0, cut), wire.subarray(cut)];
      let done = false;
      for (const part of parts)
        for (let i = 0; i < part.length; i += step) done = d.push(part.subarray(i, i + step));
      assert.equal(done, true, `cut ${cut} step ${step}`);
      assert.equal(Buffer.concat(out).toString(), "hello world!");
      assert.equal(d.extra, 0);
    }
  }
  for (const bad of ["x\r\n", "5\r\nhelloXX", "5\nhello\r\n", "0\r\nbad trailer\r\n\r\n"]) {
    const d = new ChunkedDecoder(() => undefined);
    assert.throws(() => d.push(Buffer.from(bad)), InvalidResponse, JSON.stringify(bad));
  }
});

/** A raw TCP upstream answering each request with `reply(requestText, socket)`. */
async function rawUpstream(
  reply: (req: string, s: Socket, n: number) => void,
): Promise<{ port: number; conns: () => number; seen: string[]; close(): Promise<void> }> {
  let conns = 0;
  let n = 0;
  const seen: string[] = [];
  const all = new Set<Socket>();
  const srv = createServer((s) => {
    conns++;
    all.add(s);
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      let end: number;
      while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
        const req = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        seen.push(req);
        reply(req, s, n++);
      }
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  return {
    port,
    conns: () => conns,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of all) s.destroy();
        srv.close(() => {
          r();
        });
      }),
  };
}

function pool(port: number, keepaliveRequests = 0): PlainPool {
  return new PlainPool({
    host: "127.0.0.1",
    port,
    socketPath: null,
    connectTimeout: 1000,
    keepaliveTimeout: 2000,
    keepaliveRequests,
  });
}

const GET = {
  method: "GET",
  path: "/x",
  headers: [["Host", "up"]] as Array<[string, string]>,
  body: null,
  close: false,
  upgrade: null,
  readTimeout: 1000,
  sendTimeout: 1000,
};

/** Read a whole response body; resolves with the text or the failure. */
function bodyOf(r: UpstreamResponse): Promise<string | UpstreamFailure> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const sink: BodySink = {
      data(c) {
        parts.push(c);
        return true;
      },
      end() {
        resolve(Buffer.concat(parts).toString("latin1"));
      },
      error(f) {
        resolve(f);
      },
    };
    r.attach(sink);
  });
}

void test("plain client: keep-alive reuse, the head as undici writes it, keepalive_requests", async () => {
  const up = await rawUpstream((_req, s) => {
    s.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const p = pool(up.port, 3);
  try {
    for (let i = 0; i < 4; i++) {
      const x = p.dispatch(GET, () => undefined)!;
      const r = await x.result;
      assert.equal(r.status, 200);
      assert.equal(await bodyOf(r), "ok");
    }
    // Three requests per connection (keepalive_requests 3): the third says close.
    assert.equal(up.conns(), 2);
    assert.equal(up.seen[0], "GET /x HTTP/1.1\r\nhost: up\r\nconnection: keep-alive\r\n\r\n");
    assert.match(up.seen[2]!, /connection: close/);
    const post = p.dispatch({ ...GET, method: "POST", body: null, close: true }, () => undefined)!;
    await bodyOf(await post.result);
    assert.equal(
      up.seen[4],
      "POST /x HTTP/1.1\r\nhost: up\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
    // Fields undici handles itself go through undici.
    assert.equal(
      p.dispatch({ ...GET, headers: [["Expect", "100-continue"]] }, () => undefined),
      null,
    );
    assert.equal(
      p.dispatch({ ...GET, path: "/a b" }, () => undefined),
      null,
    );
  } finally {
    await p.destroy();
    await up.close();
  }
});

void test("plain client: chunked and close-delimited bodies; an early close is a failure", async () => {
  const up = await rawUpstream((req, s) => {
    if (req.startsWith("GET /chunked")) {
      s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
      setTimeout(() => s.write("2\r\nde\r\n0\r\n\r\n"), 20);
    } else if (req.startsWith("GET /eof")) {
      s.end("HTTP/1.0 200 OK\r\n\r\nuntil close");
    } else if (req.startsWith("GET /short")) {
      s.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    } else if (req.startsWith("GET /nohead")) {
      s.end("HTTP/1.1 200 OK\r\nX: y\r\n");
    } else {
      s.end("garbage\r\n\r\n");
    }
  });
  const p = pool(up.port);
  try {
    const run = async (path: string): Promise<string | UpstreamFailure> => {
      const x = p.dispatch({ ...GET, path }, () => undefined)!;
      return bodyOf(await x.result);
    };
    assert.equal(await run("/chunked"), "abcde");
    assert.equal(await run("/eof"), "until close");
    const short = (await run("/short")) as UpstreamFailure;
    assert.equal(short.kind, "error");
    assert.equal(short.afterHeaders, true);
    await assert.rejects(p.dispatch({ ...GET, path: "/nohead" }, () => undefined)!.result, {
      kind: "error",
      sent: true,
    });
    await assert.rejects(p.dispatch({ ...GET, path: "/bad" }, () => undefined)!.result, {
      kind: "invalid_header",
    });
  } finally {
    await p.destroy();
    await up.close();
  }
});

void test("plain client: read timeout and a refused connection (not sent)", async () => {
  const up = await rawUpstream(() => undefined);
  const p = pool(up.port);
  try {
    await assert.rejects(p.dispatch({ ...GET, readTimeout: 100 }, () => undefined)!.result, {
      kind: "timeout",
      sent: true,
    });
  } finally {
    await p.destroy();
    await up.close();
  }
  const dead = pool(up.port);
  await assert.rejects(dead.dispatch(GET, () => undefined)!.result, { kind: "error", sent: false });
  await dead.destroy();
});

void test("plain client: pieces kept by a late sink stay intact while other sockets read", async () => {
  // Reads share one buffer inside the client: every piece handed out must be its own copy.
  const big = (c: string): string => c.repeat(200 * 1024);
  const up = await rawUpstream((req, s) => {
    const body = big(req.startsWith("GET /a") ? "a" : "b");
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    // Several writes so that the two replies' reads interleave.
    for (let off = 0; off < body.length; off += 50 * 1024)
      s.write(body.slice(off, off + 50 * 1024));
  });
  const p = pool(up.port);
  try {
    const xa = p.dispatch({ ...GET, path: "/a" }, () => undefined)!;
    const xb = p.dispatch({ ...GET, path: "/b" }, () => undefined)!;
    const [ra, rb] = await Promise.all([xa.result, xb.result]);
    // Attach late: whatever arrived meanwhile was held by the exchanges.
    await new Promise((r) => setTimeout(r, 50));
    const [a, b] = await Promise.all([bodyOf(ra), bodyOf(rb)]);
    assert.equal(a, big("a"));
    assert.equal(b, big("b"));
  } finally {
    await p.destroy();
    await up.close();
  }
});

void test("plain client: a closed socket serves a later connection like a new one", async () => {
  // Each reply closes its connection (as Gunicorn's sync workers do).
  const up = await rawUpstream((req, s) => {
    if (req.startsWith("GET /slow")) return; // never answers: the read timeout fires
    const body = req.startsWith("GET /big") ? "z".repeat(300 * 1024) : "small";
    s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  const sockets = new Set<Socket>();
  const proto = NetSocket.prototype;
  const connect = Object.getOwnPropertyDescriptor(proto, "connect")!;
  Object.defineProperty(proto, "connect", {
    ...connect,
    value(this: Socket, ...args: unknown[]): Socket {
      sockets.add(this);
      return Reflect.apply(connect.value as (...a: unknown[]) => Socket, this, args);
    },
  });
  const p = pool(up.port);
  try {
    const run = async (path: string, late = false): Promise<string | UpstreamFailure> => {
      const r = await p.dispatch({ ...GET, path, close: true }, () => undefined)!.result;
      // A late reader: the socket is paused until it attaches.
      if (late) await new Promise((res) => setTimeout(res, 30));
      return bodyOf(r);
    };
    for (let i = 0; i < 5; i++) assert.equal(await run("/a"), "small");
    assert.equal(await run("/big", true), "z".repeat(300 * 1024));
    await assert.rejects(
      p.dispatch({ ...GET, path: "/slow", close: true, readTimeout: 50 }, () => undefined)!.result,
      { kind: "timeout" },
    );
    for (let i = 0; i < 5; i++)
      assert.equal(
        await run(i % 2 === 0 ? "/a" : "/big"),
        i % 2 === 0 ? "small" : "z".repeat(300 * 1024),
      );
    assert.equal(up.conns(), 12);
    assert.ok(sockets.size < 12, `${sockets.size} sockets for 12 connections`);
  } finally {
    Object.defineProperty(proto, "connect", connect);
    await p.destroy();
    await up.close();
  }
});
