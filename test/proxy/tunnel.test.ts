import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { tunnel } from "../../src/proxy/tunnel.js";

/** A connected socket pair over loopback: [our end, their end]. */
async function pair(): Promise<[Socket, Socket, () => void]> {
  let theirs!: Socket;
  const srv = createServer((s) => (theirs = s));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const ours = connect({ host: "127.0.0.1", port });
  await new Promise<void>((r) => ours.once("connect", r));
  while (theirs === undefined) await new Promise((r) => setTimeout(r, 5));
  return [ours, theirs, () => srv.close()];
}

function collect(s: Socket): { text: () => string } {
  const parts: Buffer[] = [];
  s.on("data", (d: Buffer) => parts.push(d));
  return { text: () => Buffer.concat(parts).toString() };
}

void test("tunnel copies both ways, forwards the client's early bytes, and closes both sides", async () => {
  const [clientFar, clientNear, stop1] = await pair();
  const [upNear, upFar, stop2] = await pair();
  const atUpstream = collect(upFar);
  const atClient = collect(clientFar);
  const done = tunnel(clientNear, upNear, Buffer.from("early;"), 0);
  clientFar.write("ping");
  upFar.write("pong");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(atUpstream.text(), "early;ping");
  assert.equal(atClient.text(), "pong");
  upFar.destroy();
  const stats = await done;
  assert.deepEqual(stats, { up: 10, down: 4 });
  assert.ok(clientNear.destroyed && upNear.destroyed);
  clientFar.destroy();
  stop1();
  stop2();
});

void test("tunnel idle timeout closes a silent tunnel", async () => {
  const [clientFar, clientNear, stop1] = await pair();
  const [upNear, upFar, stop2] = await pair();
  const t0 = Date.now();
  await tunnel(clientNear, upNear, Buffer.alloc(0), 150);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 2000, `took ${took}`);
  clientFar.destroy();
  upFar.destroy();
  stop1();
  stop2();
});
