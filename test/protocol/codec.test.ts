import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { repoRoot } from "../../src/core/paths.js";
import {
  BodyMode,
  decodeAppError,
  decodeBootError,
  decodeChildExit,
  decodeFork,
  decodeForked,
  decodeFileAck,
  decodeHello,
  decodeLog,
  decodeRequest,
  decodeResponseFile,
  decodeResponseHead,
  decodeStack,
  encodeAbort,
  encodeAppError,
  encodeBody,
  encodeBodyEnd,
  encodeBootError,
  encodeChildExit,
  encodeFork,
  encodeForked,
  encodeDumpStack,
  encodeFileAck,
  encodeHello,
  encodeLog,
  encodePing,
  encodePong,
  encodeRequest,
  encodeResponseBody,
  encodeResponseEnd,
  encodeResponseFile,
  encodeResponseHead,
  encodeShutdown,
  encodeStack,
  type Frame,
  FrameDecoder,
  FrameType,
  frameHeader,
  MAX_CHUNK,
  ProtocolError,
  type RequestMeta,
} from "../../src/protocol/index.js";

import type { BadVector, Vector } from "./vector-types.js";
const file = JSON.parse(
  readFileSync(join(repoRoot(), "test/fixtures/protocol/vectors.json"), "utf8"),
) as {
  vectors: Vector[];
  bad: BadVector[];
};

const cat = (b: Buffer | Buffer[]): Buffer => (Array.isArray(b) ? Buffer.concat(b) : b);
const data = (f: Record<string, unknown>): Buffer => Buffer.from(f["dataHex"] as string, "hex");

/** Encode a vector's fields with the public encoder of its type. */
function encode(v: Vector): Buffer {
  const f = v.fields;
  switch (v.type) {
    case "HELLO":
      return encodeHello(f as never);
    case "BOOT_ERROR":
      return encodeBootError(f as never);
    case "PING":
      return encodePing(data(f));
    case "PONG":
      return encodePong(data(f));
    case "SHUTDOWN":
      return encodeShutdown();
    case "REQUEST": {
      const { bodyHex, ...meta } = f;
      return encodeRequest(
        v.id,
        meta as unknown as RequestMeta,
        Buffer.from(bodyHex as string, "hex"),
      );
    }
    case "BODY":
      return cat(encodeBody(v.id, data(f)));
    case "BODY_END":
      return encodeBodyEnd(v.id);
    case "ABORT":
      return encodeAbort(v.id);
    case "FILE_ACK":
      return encodeFileAck(v.id, f["ok"] as boolean);
    case "DUMP_STACK":
      return encodeDumpStack(v.id);
    case "RESPONSE_HEAD":
      return encodeResponseHead(v.id, f as never);
    case "RESPONSE_BODY":
      return cat(encodeResponseBody(v.id, data(f)));
    case "RESPONSE_FILE":
      return encodeResponseFile(v.id, f as never);
    case "RESPONSE_END":
      return encodeResponseEnd(v.id);
    case "APP_ERROR":
      return encodeAppError(v.id, f as never);
    case "LOG":
      return encodeLog(v.id, f as never);
    case "STACK":
      return encodeStack(v.id, f as never);
    case "FORK":
      return encodeFork(f as never);
    case "FORKED":
      return encodeForked(f as never);
    case "CHILD_EXIT":
      return encodeChildExit(f as never);
  }
}

/** Decode a frame's payload with the typed decoder of its type, into the vector's field shape. */
function decode(fr: Frame): Record<string, unknown> {
  const p = fr.payload;
  switch (fr.type) {
    case FrameType.HELLO:
      return { ...decodeHello(p) };
    case FrameType.BOOT_ERROR:
      return { ...decodeBootError(p) };
    case FrameType.APP_ERROR:
      return { ...decodeAppError(p) };
    case FrameType.LOG:
      return { ...decodeLog(p) };
    case FrameType.STACK:
      return { ...decodeStack(p) };
    case FrameType.FORK:
      return { ...decodeFork(p) };
    case FrameType.FORKED:
      return { ...decodeForked(p) };
    case FrameType.CHILD_EXIT:
      return { ...decodeChildExit(p) };
    case FrameType.PING:
    case FrameType.PONG:
    case FrameType.BODY:
    case FrameType.RESPONSE_BODY:
      return { dataHex: p.toString("hex") };
    case FrameType.REQUEST: {
      const { meta, body } = decodeRequest(p);
      return { ...meta, bodyHex: body.toString("hex") };
    }
    case FrameType.RESPONSE_HEAD:
      return { ...decodeResponseHead(p) };
    case FrameType.RESPONSE_FILE:
      return { ...decodeResponseFile(p) };
    case FrameType.FILE_ACK:
      return { ok: decodeFileAck(p) };
    default:
      assert.equal(p.length, 0);
      return {};
  }
}

const sender = (type: string): "node" | "worker" =>
  (FrameType[type as keyof typeof FrameType] & 0x80) !== 0 ? "worker" : "node";

for (const v of file.vectors) {
  void test(`golden vector ${v.name}: encode gives the bytes, decode gives the fields`, () => {
    assert.equal(encode(v).toString("hex"), v.hex);
    const frames = new FrameDecoder(sender(v.type)).push(Buffer.from(v.hex, "hex"));
    assert.equal(frames.length, 1);
    const fr = frames[0] as Frame;
    assert.equal(fr.type, FrameType[v.type]);
    assert.equal(fr.id, v.id);
    assert.equal(fr.flags, 0);
    assert.deepEqual(decode(fr), v.fields);
  });
}

for (const b of file.bad) {
  void test(`bad vector ${b.name} is rejected with ${b.fault}`, () => {
    const dec = new FrameDecoder(b.from);
    const bytes = Buffer.from(b.hex, "hex");
    const fault = (fn: () => unknown): void => {
      assert.throws(
        fn,
        (e: unknown) =>
          e instanceof ProtocolError && e.fault === b.fault && e.code === "WORKER_PROTOCOL",
      );
    };
    if (b.stage === "frame") {
      fault(() => dec.push(bytes));
      // The decoder stays failed: the stream is out of sync.
      fault(() => dec.push(Buffer.from(file.vectors[0]!.hex, "hex")));
    } else {
      const [fr] = dec.push(bytes);
      assert.ok(fr);
      fault(() => decode(fr));
    }
  });
}

void test("oversized frame is rejected from its header alone, before the payload arrives", () => {
  const dec = new FrameDecoder("worker");
  assert.throws(() => dec.push(frameHeaderRaw(FrameType.RESPONSE_BODY, 1, 0x7fffffff)), {
    fault: "PAYLOAD_TOO_LARGE",
  });
});

function frameHeaderRaw(type: number, id: number, len: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = type;
  b.writeUInt32BE(id, 4);
  b.writeUInt32BE(len, 8);
  return b;
}

void test("decoder returns the same frames for any split of the stream", () => {
  const vs = file.vectors;
  const stream = Buffer.concat(vs.map((v) => Buffer.from(v.hex, "hex")));
  const expected = vs.map((v) => v.hex);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 40 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const dec = new FrameDecoder("any");
      const got: string[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        for (const f of dec.push(stream.subarray(prev, p))) {
          const h = Buffer.alloc(12);
          h[0] = f.type;
          h.writeUInt32BE(f.id, 4);
          h.writeUInt32BE(f.payload.length, 8);
          got.push(Buffer.concat([h, f.payload]).toString("hex"));
        }
        prev = p;
      }
      assert.deepEqual(got, expected);
      assert.equal(dec.pending, 0);
    }),
    { numRuns: 200 },
  );
});

void test("byte-by-byte feeding yields every frame once", () => {
  const stream = Buffer.concat(file.vectors.map((v) => Buffer.from(v.hex, "hex")));
  const dec = new FrameDecoder();
  let n = 0;
  for (let i = 0; i < stream.length; i++) n += dec.push(stream.subarray(i, i + 1)).length;
  assert.equal(n, file.vectors.length);
});

void test("a frame inside one chunk is returned as a view, not a copy", () => {
  const body = Buffer.alloc(1000, 7);
  const wire = Buffer.concat(encodeResponseBody(3, body));
  const [f] = new FrameDecoder("worker").push(wire);
  assert.ok(f);
  assert.equal(f.payload.buffer, wire.buffer);
  assert.equal(f.payload.byteOffset, wire.byteOffset + 12);
});

void test("encodeBody does not copy and splits chunks above MAX_CHUNK", () => {
  const small = Buffer.from("abc");
  const parts = encodeBody(9, small);
  assert.equal(parts.length, 2);
  assert.equal(parts[1], small);
  const big = Buffer.alloc(MAX_CHUNK * 2 + 5, 1);
  const frames = new FrameDecoder("node").push(Buffer.concat(encodeBody(9, big)));
  assert.deepEqual(
    frames.map((f) => f.payload.length),
    [MAX_CHUNK, MAX_CHUNK, 5],
  );
  assert.deepEqual(
    encodeBody(9, Buffer.alloc(0)).map((b) => b.length),
    [12, 0],
  );
});

const baseMeta: RequestMeta = {
  method: "GET",
  urlScheme: "http",
  serverProtocol: "HTTP/1.1",
  target: "/",
  path: "/",
  query: "",
  scriptName: "",
  remoteAddr: "127.0.0.1",
  remotePort: 1,
  serverName: "h",
  serverPort: 80,
  headers: [],
  bodyLength: 0,
  bodyMode: BodyMode.INLINE,
  bodyFile: "",
};

void test("encoders refuse what the wire cannot carry, with a typed error", () => {
  const bad = (fn: () => unknown, fault: string): void => {
    assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.fault === fault);
  };
  bad(() => encodeRequest(0, baseMeta), "BAD_REQUEST_ID");
  bad(() => encodeRequest(2 ** 32, baseMeta), "BAD_REQUEST_ID");
  bad(() => encodeRequest(1, { ...baseMeta, headers: [["X", "\u0100"]] }), "NOT_LATIN1");
  bad(() => encodeRequest(1, { ...baseMeta, target: "/\u20ac" }), "NOT_LATIN1");
  bad(
    () => encodeRequest(1, { ...baseMeta, headers: [["X".repeat(0x10000), "v"]] }),
    "STRING_TOO_LONG",
  );
  bad(
    () => encodeRequest(1, { ...baseMeta, target: "/" + "a".repeat(0x10000) }),
    "STRING_TOO_LONG",
  );
  bad(
    () =>
      encodeRequest(1, {
        ...baseMeta,
        headers: Array.from({ length: 4097 }, () => ["a", "b"] as const),
      }),
    "TOO_MANY_HEADERS",
  );
  bad(() => encodeRequest(1, { ...baseMeta, bodyLength: 3 }, Buffer.from("ab")), "BAD_VALUE");
  bad(() => encodeRequest(1, { ...baseMeta, remotePort: 70000 }), "BAD_VALUE");
  bad(
    () =>
      encodeRequest(
        1,
        { ...baseMeta, bodyLength: 17 * 1024 * 1024 },
        Buffer.alloc(17 * 1024 * 1024),
      ),
    "PAYLOAD_TOO_LARGE",
  );
  bad(() => encodeResponseHead(1, { status: 42, reason: "", headers: [] }), "BAD_VALUE");
  bad(() => encodePing(Buffer.alloc(65)), "PAYLOAD_TOO_LARGE");
  bad(() => frameHeader(FrameType.BODY_END, 1, 1), "BAD_PAYLOAD_LENGTH");
  bad(
    () =>
      encodeHello({
        protocol: 1,
        pid: 1,
        python: "x".repeat(2 * 1024 * 1024),
        app: "a",
        threads: 1,
      }),
    "PAYLOAD_TOO_LARGE",
  );
});

void test("HELLO from another protocol version is refused", () => {
  const f = new FrameDecoder("worker").push(
    encodeHello({ protocol: 2, pid: 1, python: "3", app: "a", threads: 1 }),
  )[0];
  assert.ok(f);
  assert.throws(() => decodeHello(f.payload), { fault: "BAD_VALUE" });
});

void test("REQUEST round-trips arbitrary latin-1 headers and bodies", () => {
  const latin1 = fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 40,
  });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(latin1, latin1), { maxLength: 20 }),
      fc.uint8Array({ maxLength: 300 }),
      latin1,
      fc.integer({ min: 1, max: 0xffffffff }),
      (headers, bytes, target, id) => {
        const body = Buffer.from(bytes);
        const meta: RequestMeta = { ...baseMeta, headers, target, bodyLength: body.length };
        const [f] = new FrameDecoder("node").push(encodeRequest(id, meta, body));
        assert.ok(f);
        assert.equal(f.id, id);
        const d = decodeRequest(f.payload);
        assert.deepEqual(d.meta, meta);
        assert.deepEqual(d.body, body);
      },
    ),
    { numRuns: 100 },
  );
});
