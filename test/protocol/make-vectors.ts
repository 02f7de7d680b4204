/**
 * Writes test/fixtures/protocol/vectors.json: frames with their exact bytes, shared by the
 * TypeScript tests (test/protocol/) and the Python tests (python/tests/). Run once when the
 * protocol changes (`npx tsx test/protocol/make-vectors.ts && npx prettier --write
 * test/fixtures/protocol`), then review the diff by hand:
 * the committed file is the reference both codecs must match, not this script.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import {
  BodyMode,
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
  encodeFrame,
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
  FrameType,
  type RequestMeta,
} from "../../src/protocol/index.js";

import type { BadVector, Vector } from "./vector-types.js";

const hex = (b: Buffer | Buffer[]): string =>
  (Array.isArray(b) ? Buffer.concat(b) : b).toString("hex");

const get: RequestMeta = {
  method: "GET",
  urlScheme: "http",
  serverProtocol: "HTTP/1.1",
  target: "/caf%C3%A9/a%2Fb?x=1&y=%20",
  path: "/caf%C3%A9/a%2Fb",
  query: "x=1&y=%20",
  scriptName: "",
  remoteAddr: "127.0.0.1",
  remotePort: 50123,
  serverName: "127.0.0.1",
  serverPort: 8000,
  headers: [
    ["Host", "example.com:8000"],
    ["Accept", "*/*"],
    ["X-Multi", "a"],
    ["x-multi", "b"],
    ["X-Latin1", "caf\u00e9 \u00ff"],
  ],
  bodyLength: 0,
  bodyMode: BodyMode.INLINE,
  bodyFile: "",
};
const post: RequestMeta = {
  ...get,
  method: "POST",
  target: "/submit",
  path: "/submit",
  query: "",
  urlScheme: "https",
  serverProtocol: "HTTP/1.0",
  scriptName: "/app",
  remoteAddr: "::1",
  remotePort: 1,
  serverName: "localhost",
  serverPort: 443,
  headers: [
    ["Content-Type", "application/x-www-form-urlencoded"],
    ["Content-Length", "7"],
  ],
  bodyLength: 7,
};
const body = Buffer.from("a=1&b=2");

const meta = (m: RequestMeta): Record<string, unknown> => ({
  ...m,
  headers: m.headers.map(([n, v]) => [n, v]),
});

const hello = {
  protocol: 1,
  pid: 4242,
  python: "3.11.7",
  app: "hello_world:process_http_request",
  threads: 2,
};
const bootError = {
  reason: "ModuleNotFoundError: No module named 'nope'",
  traceback:
    "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nModuleNotFoundError: No module named 'nope'\n",
};
const appError = {
  reason: "ZeroDivisionError: division by zero",
  traceback: "Traceback (most recent call last):\n…\n",
};
const log = { level: "warning", message: "app wrote to a closed response: é" } as const;
const stack = {
  thread: "narwhal-3",
  stack: '  File "views.py", line 9, in slow\n    time.sleep(60)\n',
};
const head = {
  status: 200,
  reason: "OK",
  headers: [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", "12"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=\u00e9"],
  ] as Array<[string, string]>,
};
const file = { pid: 4242, fd: 17, offset: 5, length: 5_000_000_000 };

const vectors: Vector[] = [
  { name: "hello", type: "HELLO", id: 0, fields: hello, hex: hex(encodeHello(hello)) },
  {
    name: "boot-error",
    type: "BOOT_ERROR",
    id: 0,
    fields: bootError,
    hex: hex(encodeBootError(bootError)),
  },
  {
    name: "ping",
    type: "PING",
    id: 0,
    fields: { dataHex: "0000002a" },
    hex: hex(encodePing(Buffer.from("0000002a", "hex"))),
  },
  {
    name: "pong",
    type: "PONG",
    id: 0,
    fields: { dataHex: "0000002a" },
    hex: hex(encodePong(Buffer.from("0000002a", "hex"))),
  },
  { name: "ping-empty", type: "PING", id: 0, fields: { dataHex: "" }, hex: hex(encodePing()) },
  { name: "shutdown", type: "SHUTDOWN", id: 0, fields: {}, hex: hex(encodeShutdown()) },
  {
    name: "request-get",
    type: "REQUEST",
    id: 1,
    fields: { ...meta(get), bodyHex: "" },
    hex: hex(encodeRequest(1, get)),
  },
  {
    name: "request-post-inline",
    type: "REQUEST",
    id: 0xfffffffe,
    fields: { ...meta(post), bodyHex: body.toString("hex") },
    hex: hex(encodeRequest(0xfffffffe, post, body)),
  },
  {
    name: "request-post-frames",
    type: "REQUEST",
    id: 2,
    fields: { ...meta({ ...post, bodyMode: BodyMode.FRAMES }), bodyHex: "" },
    hex: hex(encodeRequest(2, { ...post, bodyMode: BodyMode.FRAMES })),
  },
  {
    name: "request-post-file",
    type: "REQUEST",
    id: 3,
    fields: {
      ...meta({
        ...post,
        bodyMode: BodyMode.FILE,
        bodyLength: 20971520,
        bodyFile: "/tmp/narwhal-body-\u00e9-3",
      }),
      bodyHex: "",
    },
    hex: hex(
      encodeRequest(3, {
        ...post,
        bodyMode: BodyMode.FILE,
        bodyLength: 20971520,
        bodyFile: "/tmp/narwhal-body-\u00e9-3",
      }),
    ),
  },
  {
    name: "body",
    type: "BODY",
    id: 2,
    fields: { dataHex: body.toString("hex") },
    hex: hex(encodeBody(2, body)),
  },
  { name: "body-end", type: "BODY_END", id: 2, fields: {}, hex: hex(encodeBodyEnd(2)) },
  { name: "abort", type: "ABORT", id: 5, fields: {}, hex: hex(encodeAbort(5)) },
  {
    name: "file-ack-ok",
    type: "FILE_ACK",
    id: 6,
    fields: { ok: true },
    hex: hex(encodeFileAck(6, true)),
  },
  {
    name: "file-ack-stream",
    type: "FILE_ACK",
    id: 6,
    fields: { ok: false },
    hex: hex(encodeFileAck(6, false)),
  },
  { name: "dump-stack", type: "DUMP_STACK", id: 7, fields: {}, hex: hex(encodeDumpStack(7)) },
  {
    name: "response-head",
    type: "RESPONSE_HEAD",
    id: 1,
    fields: head,
    hex: hex(encodeResponseHead(1, head)),
  },
  {
    name: "response-head-empty",
    type: "RESPONSE_HEAD",
    id: 9,
    fields: { status: 204, reason: "", headers: [] },
    hex: hex(encodeResponseHead(9, { status: 204, reason: "", headers: [] })),
  },
  {
    name: "response-body",
    type: "RESPONSE_BODY",
    id: 1,
    fields: { dataHex: Buffer.from("Hello World\n").toString("hex") },
    hex: hex(encodeResponseBody(1, Buffer.from("Hello World\n"))),
  },
  {
    name: "response-file",
    type: "RESPONSE_FILE",
    id: 6,
    fields: file,
    hex: hex(encodeResponseFile(6, file)),
  },
  { name: "response-end", type: "RESPONSE_END", id: 1, fields: {}, hex: hex(encodeResponseEnd(1)) },
  {
    name: "app-error",
    type: "APP_ERROR",
    id: 4,
    fields: appError,
    hex: hex(encodeAppError(4, appError)),
  },
  { name: "log-request", type: "LOG", id: 4, fields: log, hex: hex(encodeLog(4, log)) },
  {
    name: "log-connection",
    type: "LOG",
    id: 0,
    fields: { level: "info", message: "hi" },
    hex: hex(encodeLog(0, { level: "info", message: "hi" })),
  },
  { name: "stack", type: "STACK", id: 7, fields: stack, hex: hex(encodeStack(7, stack)) },
  {
    name: "fork",
    type: "FORK",
    id: 0,
    fields: { connect: "/tmp/narwhal-1/w.sock" },
    hex: hex(encodeFork({ connect: "/tmp/narwhal-1/w.sock" })),
  },
  {
    name: "forked",
    type: "FORKED",
    id: 0,
    fields: { pid: 4243 },
    hex: hex(encodeForked({ pid: 4243 })),
  },
  {
    name: "child-exit-signal",
    type: "CHILD_EXIT",
    id: 0,
    fields: { pid: 4243, code: null, signal: "SIGKILL" },
    hex: hex(encodeChildExit({ pid: 4243, code: null, signal: "SIGKILL" })),
  },
  {
    name: "child-exit-code",
    type: "CHILD_EXIT",
    id: 0,
    fields: { pid: 4244, code: 0, signal: null },
    hex: hex(encodeChildExit({ pid: 4244, code: 0, signal: null })),
  },
];

const h = (type: number, flags: number, reserved: number, id: number, len: number): string => {
  const b = Buffer.alloc(12);
  b[0] = type;
  b[1] = flags;
  b.writeUInt16BE(reserved, 2);
  b.writeUInt32BE(id, 4);
  b.writeUInt32BE(len, 8);
  return b.toString("hex");
};
const T = FrameType;
const headTooMany = Buffer.alloc(6);
headTooMany.writeUInt16BE(200, 0);
headTooMany.writeUInt16BE(4097, 2);
const getHex = hex(encodeRequest(1, get));

const bad: BadVector[] = [
  {
    name: "reserved-not-zero",
    from: "worker",
    stage: "frame",
    fault: "BAD_RESERVED",
    hex: h(T.RESPONSE_END, 0, 1, 1, 0),
  },
  {
    name: "unknown-type",
    from: "worker",
    stage: "frame",
    fault: "UNKNOWN_TYPE",
    hex: h(0x99, 0, 0, 1, 0),
  },
  {
    name: "node-type-from-worker",
    from: "worker",
    stage: "frame",
    fault: "BAD_DIRECTION",
    hex: h(T.REQUEST, 0, 0, 1, 16),
  },
  {
    name: "worker-type-from-node",
    from: "node",
    stage: "frame",
    fault: "BAD_DIRECTION",
    hex: h(T.RESPONSE_END, 0, 0, 1, 0),
  },
  {
    name: "flags-set",
    from: "worker",
    stage: "frame",
    fault: "BAD_FLAGS",
    hex: h(T.RESPONSE_END, 1, 0, 1, 0),
  },
  {
    name: "request-id-zero",
    from: "node",
    stage: "frame",
    fault: "BAD_REQUEST_ID",
    hex: h(T.BODY_END, 0, 0, 0, 0),
  },
  {
    name: "ping-with-id",
    from: "node",
    stage: "frame",
    fault: "BAD_REQUEST_ID",
    hex: h(T.PING, 0, 0, 3, 0),
  },
  {
    name: "body-too-large",
    from: "node",
    stage: "frame",
    fault: "PAYLOAD_TOO_LARGE",
    hex: h(T.BODY, 0, 0, 1, 16 * 1024 * 1024 + 1),
  },
  {
    name: "ping-too-large",
    from: "node",
    stage: "frame",
    fault: "PAYLOAD_TOO_LARGE",
    hex: h(T.PING, 0, 0, 0, 65),
  },
  {
    name: "file-ack-wrong-size",
    from: "node",
    stage: "frame",
    fault: "BAD_PAYLOAD_LENGTH",
    hex: h(T.FILE_ACK, 0, 0, 1, 2) + "0100",
  },
  {
    name: "end-with-payload",
    from: "worker",
    stage: "frame",
    fault: "BAD_PAYLOAD_LENGTH",
    hex: h(T.RESPONSE_END, 0, 0, 1, 1) + "00",
  },
  {
    name: "request-truncated",
    from: "node",
    stage: "payload",
    fault: "TRUNCATED",
    hex: h(T.REQUEST, 0, 0, 1, 20) + getHex.slice(24, 24 + 40),
  },
  {
    name: "response-head-trailing",
    from: "worker",
    stage: "payload",
    fault: "TRAILING_BYTES",
    hex: h(T.RESPONSE_HEAD, 0, 0, 1, 7) + "00c80000000000",
  },
  {
    name: "response-head-too-many",
    from: "worker",
    stage: "payload",
    fault: "TOO_MANY_HEADERS",
    hex: h(T.RESPONSE_HEAD, 0, 0, 1, 6) + headTooMany.toString("hex"),
  },
  {
    name: "response-head-bad-status",
    from: "worker",
    stage: "payload",
    fault: "BAD_VALUE",
    hex: h(T.RESPONSE_HEAD, 0, 0, 1, 6) + "000a00000000",
  },
  {
    name: "request-bad-body-mode",
    from: "node",
    stage: "payload",
    fault: "BAD_VALUE",
    hex: h(T.REQUEST, 0, 0, 1, getHex.length / 2 - 12) + "07" + getHex.slice(26),
  },
  {
    name: "hello-not-json",
    from: "worker",
    stage: "payload",
    fault: "BAD_JSON",
    hex: hex(encodeFrame(T.HELLO, 0, Buffer.from("{oops"))),
  },
  {
    name: "file-ack-not-bool",
    from: "node",
    stage: "payload",
    fault: "BAD_VALUE",
    hex: h(T.FILE_ACK, 0, 0, 1, 1) + "02",
  },
];

const out = {
  protocol: 1,
  comment: "Generated by test/protocol/make-vectors.ts, then reviewed; see docs/protocol.md",
  vectors,
  bad,
};
writeFileSync(
  join(repoRoot(), "test/fixtures/protocol/vectors.json"),
  JSON.stringify(out, null, 1) + "\n",
);
console.log(`${vectors.length} vectors, ${bad.length} bad vectors`);
