import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LineSink } from "../../src/core/log.js";
import { ConfigError } from "../../src/core/errors.js";
import { repoRoot } from "../../src/core/paths.js";
import {
  AccessLog,
  accessRecordOf,
  compileAccessLogFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
  JSON_FIELDS,
  openAccessLog,
  type AccessRecord,
} from "../../src/http/access-log.js";
import { basicAuthUser, clfTime } from "../../src/http/access-log-atoms.js";
import { SETTINGS } from "../../src/config/settings.js";
import type { IncomingRequest } from "../../src/http/types.js";

// 2026-11-26T23:30:00Z; the request took 1.234567 s, so it ended at 23:30:01.234567.
const START = Date.UTC(2026, 10, 26, 23, 30, 0);

function record(over: Partial<AccessRecord> = {}): AccessRecord {
  return {
    remoteAddress: "192.0.2.7",
    remotePort: 51234,
    method: "GET",
    target: "/caf%C3%A9/a%20b?x=1&y=%22",
    path: "/caf%C3%A9/a%20b",
    query: "x=1&y=%22",
    protocol: "HTTP/1.1",
    status: 200,
    bodyBytes: 1234,
    requestHeaders: [
      ["Host", "example.test"],
      ["User-Agent", 'curl/8.0 "quoted"'],
      ["Referer", "http://ref.test/"],
      ["Authorization", "Basic YWxpY2U6c2VjcmV0"], // alice:secret
      ["X-Forwarded-For", "10.0.0.1"],
      ["X-Forwarded-For", "10.0.0.2"],
    ],
    responseHeaders: [
      ["Content-Type", "text/html; charset=utf-8"],
      ["X-Request-Id", "abc-123"],
    ],
    startTime: START,
    durationUs: 1_234_567,
    pid: 4242,
    ...over,
  };
}

function withTZ<T>(tz: string, fn: () => T): T {
  const old = process.env["TZ"];
  process.env["TZ"] = tz;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env["TZ"];
    else process.env["TZ"] = old;
  }
}

const fmt = (spec: string, rec: AccessRecord = record()): string =>
  withTZ("UTC", () => compileAccessLogFormat(spec)(rec));

void test("the default format is Gunicorn's, and the setting's default is the same string", () => {
  assert.equal(
    DEFAULT_ACCESS_LOG_FORMAT,
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
  );
  assert.equal(
    SETTINGS.find((s) => s.name === "access_log_format")?.default,
    DEFAULT_ACCESS_LOG_FORMAT,
  );
  assert.equal(
    fmt(DEFAULT_ACCESS_LOG_FORMAT),
    '192.0.2.7 - alice [26/Nov/2026:23:30:01 +0000] "GET /caf%C3%A9/a%20b?x=1&y=%22 HTTP/1.1" 200 1234 "http://ref.test/" "curl/8.0 \\"quoted\\""',
  );
});

void test("every Gunicorn atom, one at a time", () => {
  const expected: Record<string, string> = {
    h: "192.0.2.7",
    l: "-",
    u: "alice",
    t: "[26/Nov/2026:23:30:01 +0000]",
    r: "GET /caf%C3%A9/a%20b?x=1&y=%22 HTTP/1.1",
    m: "GET",
    U: "/caf\u00c3\u00a9/a b", // PATH_INFO: %XX decoded to bytes, read as latin-1 (PEP 3333)
    q: "x=1&y=%22",
    H: "HTTP/1.1",
    s: "200",
    B: "1234",
    b: "1234",
    f: "http://ref.test/",
    a: 'curl/8.0 \\"quoted\\"',
    T: "1",
    M: "1234",
    D: "1234567",
    L: "1.234567",
    p: "<4242>",
    "{host}i": "example.test",
    "{HOST}i": "example.test", // {...} keys are looked up lower-cased
    "{x-forwarded-for}i": "10.0.0.2", // a dict of the headers keeps the last value
    "{x-missing}i": "-",
    "{content-type}o": "text/html; charset=utf-8",
    "{X-Request-Id}o": "abc-123",
    "{x-missing}o": "-",
    "{remote_port}e": "51234",
    "{REQUEST_METHOD}e": "GET",
    "{path_info}e": "/caf\u00c3\u00a9/a b",
    "{http_x_forwarded_for}e": "10.0.0.1,10.0.0.2", // environ joins repeats with ","
    "{wsgi.url_scheme}e": "-",
    z: "-", // unknown atoms print "-", as SafeAtoms does
    "{x}z": "-",
  };
  for (const [atom, want] of Object.entries(expected)) {
    assert.equal(fmt(`%(${atom})s`), want, `atom ${atom}`);
  }
  assert.equal(
    fmt("%({wsgi.url_scheme}e)s", record({ environ: { "wsgi.url_scheme": "https" } })),
    "https",
  );
  assert.equal(fmt("%(t)s|%(T)s", record()), "[26/Nov/2026:23:30:01 +0000]|1");
});

void test("t is strftime's local time with its offset", () => {
  const rec = record({ durationUs: 0 });
  assert.equal(
    withTZ("Asia/Kolkata", () => compileAccessLogFormat("%(t)s")(rec)),
    "[27/Nov/2026:05:00:00 +0530]",
  );
  assert.equal(
    withTZ("America/St_Johns", () => compileAccessLogFormat("%(t)s")(rec)),
    "[26/Nov/2026:20:00:00 -0330]",
  );
  assert.equal(
    withTZ("UTC", () => clfTime(new Date(Date.UTC(2027, 0, 5, 3, 4, 5)))),
    "[05/Jan/2027:03:04:05 +0000]",
  );
});

void test("edge values: no user, no referer, unix socket, zero bytes, sub-second durations", () => {
  const rec = record({
    remoteAddress: "",
    requestHeaders: [["Authorization", "Bearer xyz"]],
    bodyBytes: 0,
    durationUs: 999,
    status: 304,
    query: "",
  });
  assert.equal(
    fmt(DEFAULT_ACCESS_LOG_FORMAT, rec).replace(/\[.*\]/, "[T]"),
    '- - - [T] "GET /caf%C3%A9/a%20b?x=1&y=%22 HTTP/1.1" 304 0 "-" "-"',
  );
  assert.equal(fmt("%(T)s %(M)s %(D)s %(L)s %(q)s|", rec), "0 0 999 0.000999 |");
  assert.equal(fmt("%(D)s", record({ durationUs: 3_000_000_001 })), "3000000001");
});

void test("Basic-auth user as Gunicorn's _get_user decodes it", () => {
  assert.equal(basicAuthUser("Basic YWxpY2U6c2VjcmV0"), "alice");
  assert.equal(basicAuthUser("basic   YWxpY2U6c2VjcmV0  "), "alice");
  assert.equal(basicAuthUser("Basic Ym9i"), "bob"); // no colon: the whole value
  assert.equal(basicAuthUser("Basic w6l0w6k6eA=="), "\u00e9t\u00e9"); // UTF-8 user name
  assert.equal(basicAuthUser("Basic YWxpY2U"), null); // bad padding
  assert.equal(basicAuthUser("Basic /w=="), null); // not UTF-8
  assert.equal(basicAuthUser("Basic"), null);
  assert.equal(basicAuthUser("Digest username=x"), null);
  assert.equal(basicAuthUser(null), null);
});

void test("Python %-format flags, widths and conversions", () => {
  assert.equal(
    fmt("%(s)5s|%(s)-5s|%(m).1s|%%|%(D)d|%(D)08d|%(T)+d|%(B)x|%(B)#X|%(B)o"),
    "  200|200  |G|%|1234567|01234567|+1|4d2|0X4D2|2322",
  );
  assert.equal(
    fmt("%(D)f %(D).2e %(D)g %(M)10.1f"),
    "1234567.000000 1.23e+06 1.23457e+06     1234.0",
  );
  assert.equal(fmt("%(m)r %(T)r %(u)a"), "'GET' 1 'alice'");
  assert.equal(fmt("no atoms at all"), "no atoms at all");
  assert.equal(fmt("%(h)s%(h)s"), "192.0.2.7192.0.2.7");
});

void test("bad formats are refused when compiled, with the reason", () => {
  const cases: Array<[string, RegExp]> = [
    ["%(h)d", /%\(h\)d needs a number, but h is text/],
    ["%(h", /incomplete format key/],
    ["%s", /has no \(name\)/],
    ["%(h)", /incomplete format/],
    ["%(h)q", /unsupported format character "q"/],
    ["%(h)*s", /\* width/],
    ["json:h,zz", /unknown atom "zz"/],
    ["json:", /json: needs atoms/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => compileAccessLogFormat(spec),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      spec,
    );
  }
});

void test("json: one JSON object per line, fixed fields, built by a JSON encoder", () => {
  const line = fmt("json");
  const obj = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj), [...JSON_FIELDS]);
  assert.deepEqual(obj, {
    time: "2026-11-26T23:30:01.234Z",
    remote_addr: "192.0.2.7",
    remote_port: 51234,
    user: "alice",
    method: "GET",
    target: "/caf%C3%A9/a%20b?x=1&y=%22",
    path: "/caf\u00c3\u00a9/a b",
    query: "x=1&y=%22",
    protocol: "HTTP/1.1",
    status: 200,
    bytes: 1234,
    referer: "http://ref.test/",
    user_agent: 'curl/8.0 "quoted"',
    duration_us: 1234567,
    pid: 4242,
  });
  assert.ok(!line.includes("\n"));
});

void test("json: quotes, backslashes and newlines in client data cannot forge fields", () => {
  const evil = 'x", "status": 500, "user": "root\\"\n{"forged": true}\r\u2028\u0000';
  const rec = record({
    requestHeaders: [
      ["User-Agent", evil],
      ["Referer", evil],
      ["X-Evil", evil],
    ],
    target: `/${evil}`,
    method: evil,
  });
  for (const spec of ["json", "json:a,f,{x-evil}i,r,s"]) {
    const line = fmt(spec, rec);
    assert.equal(line.split("\n").length, 1, "one physical line");
    const obj = JSON.parse(line) as Record<string, unknown>;
    if (spec === "json") {
      assert.equal(obj["user_agent"], evil);
      assert.equal(obj["referer"], evil);
      assert.equal(obj["method"], evil);
      assert.equal(obj["status"], 200);
      assert.equal(obj["user"], null);
      assert.deepEqual(Object.keys(obj), [...JSON_FIELDS]);
    } else {
      assert.deepEqual(obj, {
        a: evil,
        f: evil,
        "{x-evil}i": evil,
        r: `${evil} /${evil} HTTP/1.1`,
        s: 200,
      });
    }
  }
});

void test("json:ATOMS: numbers stay numbers, missing values are null", () => {
  const obj = JSON.parse(fmt("json:h, s ,B,D,L,T,u,{x-missing}i,{x-request-id}o,p")) as unknown;
  assert.deepEqual(obj, {
    h: "192.0.2.7",
    s: 200,
    B: 1234,
    D: 1234567,
    L: "1.234567",
    T: 1,
    u: "alice",
    "{x-missing}i": null,
    "{x-request-id}o": "abc-123",
    p: "<4242>",
  });
});

void test("AccessLog writes lines to its file and reopens it after a rename (USR1, logrotate)", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-access-"));
  try {
    const path = join(dir, "access.log");
    const log = openAccessLog({ path, format: "%(m)s %(s)s %(b)s" })!;
    log.log(record());
    renameSync(path, path + ".1");
    log.log(record({ status: 404 })); // still the old file until reopened
    log.reopen();
    log.log(record({ method: "POST", bodyBytes: 0 }));
    log.close();
    assert.equal(readFileSync(path + ".1", "utf8"), "GET 200 1234\nGET 404 1234\n");
    assert.equal(readFileSync(path, "utf8"), "POST 200 0\n");
    assert.equal(openAccessLog({ path: null, format: "json" }), null, "no accesslog: no log");
    assert.throws(
      () => openAccessLog({ path: null, format: "%(h)d" }),
      ConfigError,
      "the format is checked even when off",
    );
    // A format that fails at run time goes to the error callback, not to the log.
    const errors: string[] = [];
    const bad = new AccessLog(
      new LineSink(join(dir, "x.log"), "stdout"),
      () => {
        throw new Error("boom");
      },
      (m) => errors.push(m),
    );
    bad.log(record());
    bad.close();
    assert.deepEqual(errors, ["access log format failed: boom"]);
    assert.equal(readFileSync(join(dir, "x.log"), "utf8"), "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("golden: the same record formatted by Gunicorn's own Logger.atoms and SafeAtoms", (t) => {
  const python = join(repoRoot(), "scripts", "python");
  const probe = spawnSync(python, ["-c", "import gunicorn.glogging"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (probe.status !== 0) {
    t.skip("gunicorn is not installed in the project's Python (.venv)");
    return;
  }
  const formats = [
    DEFAULT_ACCESS_LOG_FORMAT,
    "%(h)s|%(l)s|%(u)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|%(T)s|%(M)s|%(D)s|%(L)s",
    "%({host}i)s|%({X-Forwarded-For}i)s|%({x-nope}i)s|%({content-type}o)s|%({x-request-id}o)s|%({remote_port}e)s|%({HTTP_X_FORWARDED_FOR}e)s|%(zz)s",
    "%(D)08d|%(T)+d|%(B)#x|%(M)10.1f|%(D).3e|%(D)g|%(s)-6s|%(m)r|%%",
  ];
  const rec = record();
  // The environ Gunicorn's wsgi.py would build for this request.
  const environ = {
    REQUEST_METHOD: rec.method,
    RAW_URI: rec.target,
    SERVER_PROTOCOL: rec.protocol,
    PATH_INFO: "/caf\u00c3\u00a9/a b",
    QUERY_STRING: rec.query,
    REMOTE_ADDR: rec.remoteAddress,
    REMOTE_PORT: String(rec.remotePort),
    HTTP_HOST: "example.test",
    HTTP_USER_AGENT: 'curl/8.0 "quoted"',
    HTTP_REFERER: "http://ref.test/",
    HTTP_AUTHORIZATION: "Basic YWxpY2U6c2VjcmV0",
    HTTP_X_FORWARDED_FOR: "10.0.0.1,10.0.0.2",
  };
  const script = `
import datetime, json, sys
from types import SimpleNamespace
from gunicorn.glogging import Logger, SafeAtoms
d = json.load(sys.stdin)
lg = Logger.__new__(Logger)
lg.now = lambda: d["t"]
req = SimpleNamespace(headers=[(k.upper(), v) for k, v in d["req"]])
resp = SimpleNamespace(status="%d OK" % d["status"], sent=d["sent"], headers=d["resp"])
atoms = SafeAtoms(lg.atoms(resp, req, d["environ"], datetime.timedelta(microseconds=d["us"])))
print(json.dumps([f % atoms for f in d["formats"]]))
`;
  const input = JSON.stringify({
    t: withTZ("UTC", () => clfTime(new Date(START + rec.durationUs / 1000))),
    req: rec.requestHeaders,
    resp: rec.responseHeaders,
    status: rec.status,
    sent: rec.bodyBytes,
    environ,
    us: rec.durationUs,
    formats,
  });
  const r = spawnSync(python, ["-c", script], { input, encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const theirs = (JSON.parse(r.stdout) as string[]).map((l) => l.replace(/<\d+>/g, "<PID>"));
  const ours = formats.map((f) => fmt(f, rec).replace(/<\d+>/g, "<PID>"));
  assert.deepEqual(ours, theirs);
});

void test("accessRecordOf: a finished exchange of the front end becomes a record", () => {
  const startedAt = process.hrtime.bigint();
  const req = {
    method: "POST",
    target: "/submit?a=1",
    path: "/submit",
    query: "a=1",
    versionMajor: 1,
    versionMinor: 0,
    headers: [["User-Agent", "ua"]],
    startedAt,
    connection: { remoteAddress: "::1", remotePort: 4000 },
  } as unknown as IncomingRequest;
  const before = Date.now();
  const rec = accessRecordOf(
    req,
    { status: 201, bodyBytesSent: 7 },
    [["X-A", "b"]],
    startedAt + 2_500_000n,
    {
      "wsgi.url_scheme": "http",
    },
  );
  assert.equal(rec.durationUs, 2500);
  assert.ok(Math.abs(rec.startTime - (before - 2.5)) < 1000);
  assert.equal(rec.pid, process.pid);
  assert.equal(
    fmt('%(h)s "%(r)s" %(s)s %(b)s %(D)s %({x-a}o)s %({wsgi.url_scheme}e)s %(a)s', rec),
    '::1 "POST /submit?a=1 HTTP/1.0" 201 7 2500 b http ua',
  );
});
