// withForwardedScheme: one pass over the fields answers as Gunicorn's per-name lookup
// (the first field of each name counts, any case; a contradiction is 400), and the
// remembered trust verdicts stay right across many distinct client addresses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "../../src/core/errors.js";
import type { HeaderList, IncomingRequest, ResponseWriter } from "../../src/http/types.js";
import { forwardedScheme, withForwardedScheme } from "../../src/site/forwarded-scheme.js";

/** Just what withForwardedScheme reads: the fields, the peer and the listener's scheme. */
function request(headers: HeaderList, remoteAddress = "127.0.0.1"): IncomingRequest {
  return {
    headers,
    scheme: "http",
    connection: { remoteAddress },
    header: (name: string) =>
      headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1] ?? null,
  } as unknown as IncomingRequest;
}

void test("forwardedScheme: Gunicorn's secure_scheme_headers, first field of each name", () => {
  assert.equal(forwardedScheme(request([["Host", "a"]])), null);
  assert.equal(forwardedScheme(request([["X-Forwarded-Proto", "https"]])), "https");
  assert.equal(forwardedScheme(request([["x-forwarded-PROTO", "http"]])), "http");
  assert.equal(forwardedScheme(request([["X-Forwarded-Protocol", "ssl"]])), "https");
  assert.equal(forwardedScheme(request([["X-Forwarded-Ssl", "on"]])), "https");
  assert.equal(forwardedScheme(request([["X-Forwarded-Ssl", "On"]])), "http");
  // Only the first field of a name is read, as req.header() does.
  const dup: HeaderList = [
    ["X-Forwarded-Proto", "https"],
    ["X-Forwarded-Proto", "http"],
  ];
  assert.equal(forwardedScheme(request(dup)), "https");
  const agree: HeaderList = [
    ["X-Forwarded-Ssl", "on"],
    ["X-Forwarded-Proto", "https"],
    ["X-Forwarded-Protocol", "ssl"],
  ];
  assert.equal(forwardedScheme(request(agree)), "https");
  // Same-length names that are not scheme headers are ignored.
  assert.equal(forwardedScheme(request([["X-Forwarded-Prot", "https"]])), null);
  assert.equal(forwardedScheme(request([["X-Forwarded-Host", "https"]])), null);
  for (const bad of [
    [
      ["X-Forwarded-Proto", "https"],
      ["X-Forwarded-Ssl", "off"],
    ],
    [
      ["X-Forwarded-Protocol", "tls"],
      ["x-forwarded-proto", "https"],
    ],
  ] as HeaderList[]) {
    assert.throws(
      () => forwardedScheme(request(bad)),
      (e: unknown) => e instanceof HttpError && e.status === 400,
    );
  }
});

void test("withForwardedScheme trusts only the allowed peers, past its memory bound", () => {
  const seen: string[] = [];
  const h = withForwardedScheme((req) => {
    seen.push(req.scheme);
  }, "10.0.0.0/8,::1");
  const res = {} as ResponseWriter;
  const proto: HeaderList = [["X-Forwarded-Proto", "https"]];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 150; i++) {
      seen.length = 0;
      void h(request(proto, `10.0.${i}.1`), res);
      void h(request(proto, `192.168.${i}.1`), res);
      void h(request(proto, `::ffff:10.1.${i}.2`), res);
      assert.deepEqual(seen, ["https", "http", "https"], `round ${round}, ${i}`);
    }
  }
  seen.length = 0;
  void h(request(proto, "::1"), res);
  void h(request(proto, ""), res);
  assert.deepEqual(seen, ["https", "http"]);
});
