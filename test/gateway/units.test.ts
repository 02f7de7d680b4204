/**
 * The gateway's and arbiter's small pure parts, as tables: interpreter lookup, the worker
 * command line, the request metadata sent to the worker, body spooling.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { workerSpec, parseRawEnv } from "../../src/arbiter/command.js";
import { findPython } from "../../src/arbiter/interpreter.js";
import { HttpError } from "../../src/core/errors.js";
import { spoolBody } from "../../src/gateway/body-spool.js";
import { requestMeta } from "../../src/gateway/request-meta.js";
import { prepareHead } from "../../src/gateway/head-cache.js";
import { serializeHeaders } from "../../src/http/header-block.js";
import { encodeResponseHead, ProtocolError } from "../../src/protocol/index.js";
import type { ConnectionInfo, IncomingRequest, RequestBody } from "../../src/http/types.js";
import { ROOT } from "./harness.js";

void test("findPython: --python, then $VIRTUAL_ENV/bin/python, then python3 on PATH", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-py-"));
  try {
    const venv = join(dir, "venv");
    const bin = join(dir, "bin");
    mkdirSync(join(venv, "bin"), { recursive: true });
    mkdirSync(bin);
    for (const p of [join(venv, "bin", "python"), join(bin, "python3"), join(bin, "pypy3")]) {
      writeFileSync(p, "#!/bin/sh\n");
      chmodSync(p, 0o755);
    }
    writeFileSync(join(bin, "notexec"), "");
    assert.equal(findPython(null, { VIRTUAL_ENV: venv, PATH: bin }), join(venv, "bin", "python"));
    assert.equal(
      findPython(null, { VIRTUAL_ENV: join(dir, "nope"), PATH: bin }),
      join(bin, "python3"),
    );
    assert.equal(findPython(null, { PATH: `/nonexistent:${bin}` }), join(bin, "python3"));
    assert.equal(findPython("pypy3", { PATH: bin }), join(bin, "pypy3"));
    assert.equal(findPython(join(bin, "pypy3"), {}), join(bin, "pypy3"));
    assert.throws(
      () => findPython(join(bin, "notexec"), {}),
      /python interpreter not found: .*notexec \(--python\)/,
    );
    assert.throws(
      () => findPython("python9", { PATH: bin }),
      /python interpreter not found: python9/,
    );
    assert.throws(
      () => findPython(null, { PATH: "/nonexistent" }),
      /no \$VIRTUAL_ENV\/bin\/python and no python3 on PATH/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("the worker command line and environment", () => {
  const spec = workerSpec({
    python: "/usr/bin/python3",
    app: "site.wsgi:application",
    threads: 4,
    chdir: "examples",
    pythonpath: "lib, /abs/dir",
    rawEnv: ["DJANGO_SETTINGS_MODULE=site.settings", "EMPTY=", "EQ=a=b"],
    name: "web",
    baseEnv: { PATH: "/bin", PYTHONPATH: "/theirs" },
  });
  assert.equal(spec.python, "/usr/bin/python3");
  assert.deepEqual(spec.args, [
    "-m",
    "narwhal_worker",
    "--threads",
    "4",
    "--chdir",
    resolve("examples"),
    "--pythonpath",
    `${resolve("lib")},/abs/dir`,
    "--name",
    "web",
    "site.wsgi:application",
  ]);
  assert.equal(spec.env["DJANGO_SETTINGS_MODULE"], "site.settings");
  assert.equal(spec.env["EMPTY"], "");
  assert.equal(spec.env["EQ"], "a=b");
  assert.equal(spec.env["PATH"], "/bin");
  assert.equal(spec.env["PYTHONPATH"], `${join(ROOT, "python")}:/theirs`);
  assert.equal(spec.env["PYTHONUNBUFFERED"], "1");
  assert.ok(existsSync(join(ROOT, "python", "narwhal_worker")));
  assert.throws(
    () => parseRawEnv(["NOVALUE"]),
    /invalid --env value "NOVALUE" \(expected KEY=VALUE\)/,
  );
  assert.throws(() => parseRawEnv(["=x"]), /invalid --env value/);
});

function fakeRequest(
  over: Partial<IncomingRequest> & { conn?: Partial<ConnectionInfo> },
): IncomingRequest {
  const headers = over.headers ?? [["Host", "example.com"]];
  const connection: ConnectionInfo = {
    id: 1,
    remoteAddress: "10.0.0.7",
    remotePort: 51234,
    localAddress: "127.0.0.1",
    localPort: 8000,
    family: "IPv4",
    tls: false,
    requests: 1,
    peerAddress: "10.0.0.7",
    peerPort: 51234,
    ...over.conn,
  };
  return {
    method: "GET",
    target: "/a%20b?x=1",
    targetForm: "origin",
    path: "/a%20b",
    query: "x=1",
    absoluteAuthority: null,
    versionMajor: 1,
    versionMinor: 1,
    contentLength: null,
    chunked: false,
    keepAlive: true,
    expectContinue: false,
    headBytes: 0,
    forwardedScheme: null,
    startedAt: 0n,
    body: {
      empty: true,
      trailers: [],
      bytesRead: 0,
      [Symbol.asyncIterator]: async function* () {},
    },
    scheme: "http",
    ...over,
    headers,
    connection,
    header(name: string): string | null {
      return headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1] ?? null;
    },
  };
}

void test("request metadata: Gunicorn's SERVER_NAME/PORT (listener; Host on a unix socket)", () => {
  const tcp = requestMeta(fakeRequest({}));
  assert.deepEqual(
    { ...tcp, headers: [...tcp.headers] },
    {
      method: "GET",
      urlScheme: "http",
      serverProtocol: "HTTP/1.1",
      target: "/a%20b?x=1",
      path: "/a%20b",
      query: "x=1",
      scriptName: "",
      remoteAddr: "10.0.0.7",
      remotePort: 51234,
      serverName: "127.0.0.1",
      serverPort: 8000,
      headers: [["Host", "example.com"]],
    },
  );
  const unix = {
    family: "unix" as const,
    remoteAddress: "",
    remotePort: 0,
    localAddress: "/run/n.sock",
    localPort: 0,
  };
  const cases: Array<[string | null, "http" | "https", string, number]> = [
    ["example.com", "http", "example.com", 80],
    ["example.com", "https", "example.com", 443],
    ["example.com:8080", "http", "example.com", 8080],
    ["[::1]:9000", "http", "[::1]", 9000],
    [null, "http", "", 0],
  ];
  for (const [host, scheme, name, port] of cases) {
    const m = requestMeta(
      fakeRequest({ conn: unix, scheme, headers: host === null ? [] : [["Host", host]] }),
    );
    assert.deepEqual([m.serverName, m.serverPort], [name, port], String(host));
  }
  const v10 = requestMeta(fakeRequest({ versionMinor: 0, scheme: "https" }));
  assert.equal(v10.serverProtocol, "HTTP/1.0");
  assert.equal(v10.urlScheme, "https");
});

void test("response heads: the same payload bytes give the same prepared head, trimmed and frozen", () => {
  const payload = (headers: Array<[string, string]>, reason = "OK"): Buffer =>
    encodeResponseHead(1, { status: 200, reason, headers }).subarray(12);
  const fields: Array<[string, string]> = [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", " a=1 "],
  ];
  const a = prepareHead(payload(fields));
  assert.equal(prepareHead(payload(fields)), a);
  assert.deepEqual(
    [a.status, a.reason, a.headers, a.hasLength],
    [
      200,
      "OK",
      [
        ["Content-Type", "text/plain"],
        ["Set-Cookie", "a=1"],
      ],
      false,
    ],
  );
  assert.ok(Object.isFrozen(a.headers));
  assert.equal(a.withLength(11), a.withLength(11));
  assert.deepEqual(a.withLength(11).at(-1), ["Content-Length", "11"]);
  assert.notEqual(prepareHead(payload(fields, "Fine")), a);
  assert.equal(prepareHead(payload([["Content-Length", "5"]])).hasLength, true);
  // A field the writer refuses is not kept: writeHead() refuses it when the response goes out.
  const bad = payload([["X-Bad", "a\rb"]]);
  const b = prepareHead(bad);
  assert.notEqual(prepareHead(bad), b);
  assert.ok(!Object.isFrozen(b.headers));
  assert.throws(() => serializeHeaders(b.headers), TypeError);
  assert.throws(() => prepareHead(payload(fields).subarray(1)), ProtocolError);
});

function bodyOf(chunks: Buffer[], failAfter: number | null = null): RequestBody {
  return {
    empty: chunks.length === 0 && failAfter === null,
    trailers: [],
    bytesRead: 0,
    [Symbol.asyncIterator]: async function* () {
      let i = 0;
      await Promise.resolve();
      for (const c of chunks) {
        if (failAfter !== null && i++ === failAfter)
          throw new HttpError("BODY_TOO_LARGE", 413, "too large");
        yield c;
      }
      if (failAfter !== null && failAfter >= chunks.length)
        throw new HttpError("BODY_TOO_LARGE", 413, "too large");
    },
  };
}

void test("spoolBody: memory up to the threshold, a 0600 temp file beyond, removed on failure", async () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-spool-"));
  try {
    const empty = await spoolBody(bodyOf([]), { memoryLimit: 10, tempDir: dir });
    assert.deepEqual(empty, { kind: "memory", chunks: [], length: 0 });
    const mem = await spoolBody(bodyOf([Buffer.from("hello"), Buffer.from("world")]), {
      memoryLimit: 10,
      tempDir: dir,
    });
    assert.equal(mem.kind, "memory");
    assert.equal(mem.length, 10);
    const file = await spoolBody(
      bodyOf([Buffer.from("hello"), Buffer.from("world"), Buffer.from("!")]),
      { memoryLimit: 10, tempDir: dir },
    );
    assert.equal(file.kind, "file");
    assert.equal(file.length, 11);
    if (file.kind === "file") {
      const { readFileSync, statSync } = await import("node:fs");
      assert.equal(readFileSync(file.path, "latin1"), "helloworld!");
      assert.equal(statSync(file.path).mode & 0o777, 0o600);
      rmSync(file.path);
    }
    await assert.rejects(
      spoolBody(bodyOf([Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)], 2), {
        memoryLimit: 10,
        tempDir: dir,
      }),
      (e: unknown) => e instanceof HttpError && e.status === 413,
    );
    assert.deepEqual(readdirSync(dir), [], "the partial temp file is removed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
