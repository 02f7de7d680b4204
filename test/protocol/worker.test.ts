/**
 * The TypeScript codec against the real Python worker, spawned the way the arbiter does
 * it: `python -m narwhal_worker` with a fourth stdio pipe (a UNIX socketpair) as fd 3.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import {
  existsSync,
  openSync,
  readSync,
  closeSync,
  writeFileSync,
  mkdtempSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { repoRoot } from "../../src/core/paths.js";
import {
  BodyMode,
  decodeAppError,
  decodeBootError,
  decodeHello,
  decodeResponseFile,
  decodeResponseHead,
  decodeStack,
  encodeAbort,
  encodeBody,
  encodeBodyEnd,
  encodeDumpStack,
  encodeFileAck,
  encodePing,
  encodeRequest,
  encodeShutdown,
  type Frame,
  FrameDecoder,
  FrameType,
  type RequestMeta,
} from "../../src/protocol/index.js";

const root = repoRoot();
const python = existsSync(join(root, ".venv/bin/python"))
  ? join(root, ".venv/bin/python")
  : "python3";
const apps = join(root, "python/tests/apps");

class Worker {
  readonly child: ChildProcess;
  readonly sock: Duplex;
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | null = null;
  stderr = "";

  constructor(spec: string, ...args: string[]) {
    this.child = spawn(python, ["-m", "narwhal_worker", "--pythonpath", apps, ...args, spec], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONPATH: join(root, "python"), PYTHONUNBUFFERED: "1" },
    });
    this.sock = this.child.stdio[3] as Duplex;
    const dec = new FrameDecoder("worker");
    this.sock.on("data", (b: Buffer) => {
      this.frames.push(...dec.push(b));
      this.waiter?.();
    });
    this.child.stderr?.on("data", (b: Buffer) => (this.stderr += b.toString()));
    this.child.stdout?.resume();
  }

  async next(timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no frame from the worker");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.frames.shift() as Frame;
  }

  async untilTerminal(id: number): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next();
      assert.equal(f.id, id);
      out.push(f);
      if (f.type === FrameType.RESPONSE_END || f.type === FrameType.APP_ERROR) return out;
    }
  }

  send(b: Buffer | Buffer[]): void {
    for (const x of Array.isArray(b) ? b : [b]) this.sock.write(x);
  }

  exit(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      this.child.once("exit", (code) => {
        resolve(code);
      });
    });
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exit();
  }
}

const meta = (over: Partial<RequestMeta> = {}): RequestMeta => ({
  method: "GET",
  urlScheme: "http",
  serverProtocol: "HTTP/1.1",
  target: "/",
  path: "/",
  query: "",
  scriptName: "",
  remoteAddr: "127.0.0.1",
  remotePort: 40000,
  serverName: "localhost",
  serverPort: 8000,
  headers: [["Host", "localhost:8000"]],
  bodyLength: 0,
  bodyMode: BodyMode.INLINE,
  bodyFile: "",
  ...over,
});

function body(frames: Frame[]): string {
  return Buffer.concat(
    frames.filter((f) => f.type === FrameType.RESPONSE_BODY).map((f) => f.payload),
  ).toString("latin1");
}

void test("worker boots, answers HELLO, serves a request and exits 0 on SHUTDOWN", async () => {
  const w = new Worker("hello:process_http_request", "--threads", "2");
  try {
    const hello = await w.next(20_000);
    assert.equal(hello.type, FrameType.HELLO);
    const h = decodeHello(hello.payload);
    assert.equal(h.pid, w.child.pid);
    assert.equal(h.threads, 2);
    w.send(encodeRequest(1, meta()));
    const frames = await w.untilTerminal(1);
    assert.deepEqual(
      frames.map((f) => f.type),
      [FrameType.RESPONSE_HEAD, FrameType.RESPONSE_BODY, FrameType.RESPONSE_END],
    );
    const head = decodeResponseHead((frames[0] as Frame).payload);
    assert.equal(head.status, 200);
    assert.deepEqual(head.headers, [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", "12"],
    ]);
    assert.equal(body(frames), "Hello World\n");
    w.send(encodePing(Buffer.from("hb")));
    const pong = await w.next();
    assert.equal(pong.type, FrameType.PONG);
    assert.equal(pong.payload.toString(), "hb");
    w.send(encodeShutdown());
    assert.equal(await w.exit(), 0);
  } finally {
    await w.kill();
  }
});

void test("a module that fails to import: BOOT_ERROR with the traceback, exit 4", async () => {
  const w = new Worker("broken_import:app");
  try {
    const f = await w.next(20_000);
    assert.equal(f.type, FrameType.BOOT_ERROR);
    const e = decodeBootError(f.payload);
    assert.equal(
      e.reason,
      "ModuleNotFoundError: No module named 'this_module_does_not_exist_anywhere'",
    );
    assert.match(e.traceback, /broken_import\.py/);
    assert.equal(await w.exit(), 4);
  } finally {
    await w.kill();
  }
});

void test("echo app: latin-1 headers, body in BODY frames, interleaved ids, APP_ERROR, ABORT, DUMP_STACK", async () => {
  const w = new Worker("echo:app", "--threads", "2");
  const b = new Worker("behaviours:app", "--threads", "2");
  try {
    assert.equal((await w.next(20_000)).type, FrameType.HELLO);
    assert.equal((await b.next(20_000)).type, FrameType.HELLO);
    const payload = Buffer.alloc(200_000, "z");
    w.send(
      encodeRequest(
        5,
        meta({
          method: "PUT",
          path: "/caf%C3%A9",
          target: "/caf%C3%A9",
          headers: [["X-L", "\u00e9\u00ff"]],
          bodyLength: payload.length,
          bodyMode: BodyMode.FRAMES,
        }),
      ),
    );
    w.send(encodeBody(5, payload.subarray(0, 100_000)));
    w.send(encodeBody(5, payload.subarray(100_000)));
    w.send(encodeBodyEnd(5));
    const env = JSON.parse(body(await w.untilTerminal(5))) as Record<string, string>;
    assert.equal(env["PATH_INFO"], "/caf\u00c3\u00a9");
    assert.equal(env["HTTP_X_L"], "\u00e9\u00ff");
    assert.equal(env["CONTENT_LENGTH"], "200000");
    assert.equal(Buffer.from(env["body_base64"] as string, "base64").equals(payload), true);

    b.send(encodeRequest(1, meta({ path: "/raise" })));
    const err = await b.untilTerminal(1);
    assert.equal(err.length, 1);
    assert.match(
      decodeAppError((err[0] as Frame).payload).traceback,
      /ZeroDivisionError: boom in the view/,
    );

    b.send(encodeRequest(2, meta({ path: "/sleep", query: "0.6" })));
    await new Promise((r) => setTimeout(r, 200));
    b.send(encodeDumpStack(2));
    const st = await b.next();
    assert.equal(st.type, FrameType.STACK);
    assert.match(decodeStack(st.payload).stack, /behaviours\.py/);
    assert.equal((await b.untilTerminal(2)).at(-1)?.type, FrameType.RESPONSE_END);

    b.send(encodeRequest(3, meta({ path: "/stream", query: "0.3" })));
    assert.equal((await b.next()).type, FrameType.RESPONSE_HEAD);
    assert.equal((await b.next()).type, FrameType.RESPONSE_BODY);
    b.send(encodeAbort(3));
    const rest = await b.untilTerminal(3);
    assert.equal(rest.at(-1)?.type, FrameType.RESPONSE_END);
    assert.ok(rest.length <= 2);
  } finally {
    await w.kill();
    await b.kill();
  }
});

void test(
  "file hand-off: Node opens /proc/<pid>/fd/<fd> and acks",
  { skip: !existsSync("/proc/self/fd") },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "narwhal-proto-"));
    const path = join(dir, "data.bin");
    writeFileSync(path, Buffer.alloc(50_000, "q"));
    const w = new Worker("behaviours:app");
    try {
      assert.equal((await w.next(20_000)).type, FrameType.HELLO);
      w.send(encodeRequest(8, meta({ path: "/file", query: path, headers: [["X-Seek", "10"]] })));
      assert.equal((await w.next()).type, FrameType.RESPONSE_HEAD);
      const ref = await w.next();
      assert.equal(ref.type, FrameType.RESPONSE_FILE);
      const f = decodeResponseFile(ref.payload);
      assert.deepEqual([f.pid, f.offset, f.length], [w.child.pid, 10, 49_990]);
      const fd = openSync(`/proc/${f.pid}/fd/${f.fd}`, "r");
      w.send(encodeFileAck(8, true));
      const end = await w.untilTerminal(8);
      assert.deepEqual(
        end.map((x) => x.type),
        [FrameType.RESPONSE_END],
      );
      const buf = Buffer.alloc(f.length);
      assert.equal(readSync(fd, buf, 0, f.length, f.offset), 49_990);
      closeSync(fd);
      assert.equal(buf.toString(), "q".repeat(49_990));
    } finally {
      await w.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
