/** Chunked responses: chunks written in one turn and the terminator leave in one socket write. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { once } from "node:events";
import { Response, type ResponseHost } from "../../src/http/response-writer.js";

interface Pair {
  server: Socket;
  client: Socket;
  received: () => string;
  writes: () => number;
  close: () => void;
}

/** A connected loopback pair; counts the server socket's writes that reach the handle. */
async function pair(): Promise<Pair> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  const client = connect(port, "127.0.0.1");
  const [server] = (await once(srv, "connection")) as [Socket];
  let data = "";
  client.setEncoding("latin1");
  client.on("data", (d: string) => (data += d));
  let n = 0;
  const s = server as unknown as {
    _write: (...a: unknown[]) => void;
    _writev: (...a: unknown[]) => void;
  };
  const w = s._write.bind(server);
  const wv = s._writev.bind(server);
  s._write = (...a) => {
    n++;
    w(...a);
  };
  s._writev = (...a) => {
    n++;
    wv(...a);
  };
  return {
    server,
    client,
    received: () => data,
    writes: () => n,
    close: () => {
      client.destroy();
      server.destroy();
      srv.close();
    },
  };
}

function host(socket: Socket): ResponseHost {
  return {
    socket,
    serverHeader: "",
    decideClose: () => false,
    responseEnded: () => {},
    writeBlocked: () => {},
    abort: () => socket.destroy(),
    upgrade: () => {
      throw new Error("no upgrade");
    },
  };
}

void test("chunks and the terminator written in one turn go out in one write", async () => {
  const p = await pair();
  try {
    const res = new Response(host(p.server), false, false);
    res.writeHead(200, [["Date", "x"]]);
    res.write("one,");
    res.write(Buffer.from("two"));
    res.end();
    assert.equal(p.writes(), 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      p.received(),
      "HTTP/1.1 200 OK\r\nDate: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n",
    );
  } finally {
    p.close();
  }
});

void test("a chunk written alone goes out on the next tick; end(chunk) later is one more write", async () => {
  const p = await pair();
  try {
    const res = new Response(host(p.server), false, false);
    res.writeHead(200, [["Date", "x"]]);
    res.write("a");
    assert.equal(p.writes(), 0);
    await new Promise<void>((r) => {
      process.nextTick(r);
    });
    assert.equal(p.writes(), 1);
    res.end("b");
    assert.equal(p.writes(), 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.match(p.received(), /\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n$/);
  } finally {
    p.close();
  }
});

void test("abort after a chunked write still sends what was written, then cuts", async () => {
  const p = await pair();
  try {
    const res = new Response(host(p.server), false, false);
    res.writeHead(200, [["Date", "x"]]);
    res.write("partial");
    res.abort();
    await once(p.client, "close");
    assert.match(p.received(), /\r\n\r\n7\r\npartial\r\n$/);
  } finally {
    p.close();
  }
});
