import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addXForwardedFor,
  buildClientResponseHeaders,
  buildUpstreamRequestHead,
  effectiveSetHeaders,
  hiddenSet,
} from "../../src/proxy/headers.js";
import { HOP_BY_HOP, connectionTokens, stripHopByHop } from "../../src/proxy/hop-by-hop.js";
import { RedirectRewriter } from "../../src/proxy/redirect.js";
import { parsePassUrl, upstreamUri, escapeUri } from "../../src/proxy/pass.js";
import type { HeaderList } from "../../src/http/types.js";
import type { VarGetter } from "../../src/proxy/types.js";

const vars: VarGetter = (n) =>
  ({
    proxy_host: "app",
    host: "example.com",
    remote_addr: "10.0.0.9",
    http_upgrade: "websocket",
    scheme: "http",
  })[n] ?? null;
const v = (name: string) => (g: VarGetter) => g(name) ?? "";
const lit = (s: string) => () => s;

void test("hop-by-hop list is RFC 9110 §7.6.1's, plus the fields Connection names", () => {
  assert.deepEqual([...HOP_BY_HOP].sort(), [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
  ]);
  const h: HeaderList = [
    ["Connection", "keep-alive, X-Secret"],
    ["X-Secret", "1"],
    ["X-Kept", "2"],
    ["TE", "trailers"],
    ["Keep-Alive", "timeout=5"],
  ];
  assert.deepEqual(stripHopByHop(h), [["X-Kept", "2"]]);
  // A lone "close" (a shared set inside) still names a field; later Connection fields add to it.
  assert.deepEqual([...connectionTokens([["Connection", "Close"]])], ["close"]);
  assert.deepEqual(
    [
      ...connectionTokens([
        ["connection", "close"],
        ["Proxy-Connection", "X-A, x-b"],
      ]),
    ].sort(),
    ["close", "x-a", "x-b"],
  );
  assert.deepEqual(
    stripHopByHop([
      ["Connection", "close"],
      ["Close", "1"],
      ["Connection", "X-Secret"],
      ["X-Secret", "1"],
      ["X-Kept", "2"],
    ]),
    [["X-Kept", "2"]],
  );
  assert.equal(connectionTokens([["X-A", "1"]]).size, 0);
});

void test("upstream request: nginx defaults Host $proxy_host and Connection close", () => {
  const client: HeaderList = [
    ["Host", "example.com"],
    ["User-Agent", "t"],
    ["Connection", "keep-alive"],
    ["Keep-Alive", "300"],
    ["TE", "trailers"],
    ["Expect", "100-continue"],
    ["Upgrade", "websocket"],
    ["Content-Length", "5"],
    ["Proxy-Authorization", "Basic x"],
    ["Accept", "*/*"],
  ];
  const head = buildUpstreamRequestHead(effectiveSetHeaders([]), client, true, vars);
  assert.deepEqual(head.headers, [
    ["Host", "app"],
    ["User-Agent", "t"],
    ["Accept", "*/*"],
  ]);
  assert.equal(head.close, true);
  assert.equal(head.upgrade, null);
});

void test("upstream request: the article's proxy_set_header lines", () => {
  const set = effectiveSetHeaders([
    ["Host", v("host")],
    [
      "X-Forwarded-For",
      (g) => addXForwardedFor([["X-Forwarded-For", "1.1.1.1"]], g("remote_addr") ?? ""),
    ],
    ["X-Empty", lit("")],
  ]);
  const client: HeaderList = [
    ["Host", "example.com"],
    ["X-Forwarded-For", "1.1.1.1"],
    ["X-Empty", "client"],
    ["Cookie", "a=b"],
  ];
  const head = buildUpstreamRequestHead(set, client, true, vars);
  assert.deepEqual(head.headers, [
    ["Host", "example.com"],
    ["X-Forwarded-For", "1.1.1.1, 10.0.0.9"],
    ["Cookie", "a=b"],
  ]);
  assert.equal(head.close, true);
});

void test("upstream request: Upgrade tunnelled only with Connection upgrade set", () => {
  const set = effectiveSetHeaders([
    ["Upgrade", v("http_upgrade")],
    ["Connection", lit("upgrade")],
  ]);
  const head = buildUpstreamRequestHead(
    set,
    [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
    ],
    true,
    vars,
  );
  assert.equal(head.upgrade, "websocket");
  assert.equal(head.close, false);
  assert.deepEqual(head.headers, [["Host", "app"]]);
  // keep-alive: Connection "" clears the default close
  const ka = buildUpstreamRequestHead(
    effectiveSetHeaders([["Connection", lit("")]]),
    [],
    true,
    vars,
  );
  assert.equal(ka.close, false);
});

void test("proxy_pass_request_headers off sends only the set list", () => {
  const head = buildUpstreamRequestHead(effectiveSetHeaders([]), [["Cookie", "x"]], false, vars);
  assert.deepEqual(head.headers, [["Host", "app"]]);
});

void test("$proxy_add_x_forwarded_for joins every X-Forwarded-For line then the client", () => {
  assert.equal(addXForwardedFor([], "10.0.0.9"), "10.0.0.9");
  assert.equal(
    addXForwardedFor(
      [
        ["X-Forwarded-For", "1.1.1.1, 2.2.2.2"],
        ["x-forwarded-for", "3.3.3.3"],
      ],
      "10.0.0.9",
    ),
    "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9",
  );
});

void test("reply headers: hop-by-hop and nginx's hidden set removed; pass_header restores", () => {
  const up: HeaderList = [
    ["Date", "x"],
    ["Server", "gunicorn"],
    ["X-Pad", "avoid browser bug"],
    ["X-Accel-Redirect", "/internal"],
    ["Connection", "close, X-Hop"],
    ["X-Hop", "1"],
    ["Transfer-Encoding", "chunked"],
    ["Keep-Alive", "timeout=5"],
    ["Content-Type", "text/html"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
    ["X-Internal", "secret"],
  ];
  const none = new RedirectRewriter("off", null);
  assert.deepEqual(buildClientResponseHeaders(up, hiddenSet(["X-Internal"], []), none, vars), [
    ["Content-Type", "text/html"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
  ]);
  assert.deepEqual(
    buildClientResponseHeaders(up, hiddenSet([], ["Server"]), none, vars).map(([n]) => n),
    ["Server", "Content-Type", "Set-Cookie", "Set-Cookie", "X-Internal"],
  );
});

void test("proxy_redirect default: pass URL with URI maps to the location", () => {
  const r = new RedirectRewriter(["default"], {
    url: "http://app",
    uri: "/two/",
    location: "/one/",
  });
  assert.equal(r.location("http://app/two/page?x=1", vars), "/one/page?x=1");
  assert.equal(r.location("http://other/two/", vars), "http://other/two/");
  assert.equal(r.refresh("5; url=http://app/two/x", vars), "5; url=/one/x");
  assert.equal(r.refresh("5; URL=http://app/two/x", vars), "5; URL=/one/x");
});

void test("proxy_redirect default: pass URL without URI maps URL/ to /", () => {
  const r = new RedirectRewriter(["default"], {
    url: "http://127.0.0.1:8000",
    uri: null,
    location: "/",
  });
  assert.equal(r.location("http://127.0.0.1:8000/admin/", vars), "/admin/");
  assert.equal(r.location("/admin/", vars), "/admin/");
  assert.equal(
    r.location("HTTP://127.0.0.1:8000/admin/", vars),
    "HTTP://127.0.0.1:8000/admin/",
    "case-sensitive as nginx",
  );
});

void test("proxy_redirect off, explicit with variables, regex with captures; first match wins", () => {
  assert.equal(
    new RedirectRewriter("off", { url: "http://a", uri: null, location: "/" }).location(
      "http://a/x",
      vars,
    ),
    "http://a/x",
  );
  const r = new RedirectRewriter(
    [
      {
        kind: "prefix",
        pattern: lit("http://localhost:8000/"),
        replacement: (g) => `${g("scheme")}://${g("host")}/`,
      },
      {
        kind: "regex",
        pattern: /^http:\/\/([^/]+)\/old\/(.*)$/,
        replacement: (m) => `/new/${m[2]}?from=${m[1]}`,
      },
      { kind: "prefix", pattern: lit("http://"), replacement: lit("never://") },
    ],
    null,
  );
  assert.equal(r.location("http://localhost:8000/a", vars), "http://example.com/a");
  assert.equal(r.location("http://h/old/p", vars), "/new/p?from=h");
  assert.equal(r.location("http://z/", vars), "never://z/");
  assert.equal(r.location("/rel", vars), "/rel");
});

void test("reply Location rewritten through the rewriter", () => {
  const r = new RedirectRewriter(["default"], { url: "http://app", uri: null, location: "/" });
  const out = buildClientResponseHeaders(
    [
      ["Location", "http://app/x"],
      ["Refresh", "0;url=http://app/y"],
    ],
    hiddenSet([], []),
    r,
    vars,
  );
  assert.deepEqual(out, [
    ["Location", "/x"],
    ["Refresh", "0;url=/y"],
  ]);
});

void test("proxy_pass URL parsing and $proxy_host/$proxy_port", () => {
  const a = parsePassUrl("http://server_django");
  assert.deepEqual(
    [a.host, a.port, a.noPort, a.uri, a.proxyHost, a.proxyPort, a.url],
    ["server_django", 80, true, null, "server_django", "80", "http://server_django"],
  );
  const b = parsePassUrl("http://127.0.0.1:8000/app/");
  assert.deepEqual(
    [b.host, b.port, b.uri, b.proxyHost, b.proxyPort, b.url],
    ["127.0.0.1", 8000, "/app/", "127.0.0.1:8000", "8000", "http://127.0.0.1:8000"],
  );
  const c = parsePassUrl("http://[::1]:81");
  assert.deepEqual([c.host, c.port, c.proxyHost], ["[::1]", 81, "[::1]:81"]);
  const d = parsePassUrl("http://unix:/run/app.sock:/api/");
  assert.deepEqual(
    [d.unixPath, d.uri, d.proxyHost, d.url],
    ["/run/app.sock", "/api/", "localhost", "http://unix:/run/app.sock"],
  );
  assert.equal(parsePassUrl("http://unix:/run/app.sock").uri, null);
  assert.equal(parsePassUrl("http://h:80").proxyHost, "h");
  assert.throws(() => parsePassUrl("ftp://x"), /invalid URL prefix/);
  assert.throws(() => parsePassUrl("http://h:99999"), /invalid port/);
  assert.throws(() => parsePassUrl("http://unix:"), /no path/);
});

void test("upstream URI: nginx's replacement rules", () => {
  const base = {
    passHasVariables: false,
    requestUri: "/one/a%20b?x=1",
    uri: "/one/a b",
    args: "x=1",
    locationPrefix: "/one/",
    uriChanged: false,
  };
  // no URI part: the request URI exactly as received
  assert.equal(upstreamUri({ ...base, passUri: null }), "/one/a%20b?x=1");
  // with a URI part: the location prefix replaced, the rest re-escaped, args appended
  assert.equal(upstreamUri({ ...base, passUri: "/two/" }), "/two/a%20b?x=1");
  assert.equal(upstreamUri({ ...base, passUri: "/" }), "/a%20b?x=1");
  assert.equal(upstreamUri({ ...base, passUri: "/two/", args: "" }), "/two/a%20b");
  // rewritten URI: the full changed URI, pass URI ignored
  assert.equal(
    upstreamUri({ ...base, passUri: "/two/", uri: "/changed/p", uriChanged: true }),
    "/changed/p?x=1",
  );
  assert.equal(
    upstreamUri({ ...base, passUri: null, uri: "/changed/p", uriChanged: true }),
    "/changed/p?x=1",
  );
  // variables with a URI: used verbatim
  assert.equal(upstreamUri({ ...base, passUri: "/fixed?q", passHasVariables: true }), "/fixed?q");
  assert.equal(upstreamUri({ ...base, passUri: null, passHasVariables: true }), "/one/a%20b?x=1");
  assert.equal(escapeUri("/a#b?c%d é"), "/a%23b%3Fc%25d%20%C3%A9");
});
