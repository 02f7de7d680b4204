/** Templates with variables: compile, evaluate, and the config-time variable check. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.js";
import {
  compileTemplate,
  evaluate,
  isBuiltinVariable,
  loadNginxConfig,
  withCaptures,
} from "../../src/config/nginx/index.js";

void test("compileTemplate splits literals, $name, ${name} and $1", () => {
  assert.deepEqual(compileTemplate("$scheme://$host$request_uri").parts, [
    { variable: "scheme" },
    "://",
    { variable: "host" },
    { variable: "request_uri" },
  ]);
  assert.deepEqual(compileTemplate("${host}suffix").parts, [{ variable: "host" }, "suffix"]);
  assert.deepEqual(compileTemplate("/x/$1/$10").parts, [
    "/x/",
    { capture: 1 },
    "/",
    { capture: 1 },
    "0",
  ]);
  assert.deepEqual(compileTemplate("plain").parts, ["plain"]);
  assert.equal(compileTemplate("plain").constant, true);
  assert.equal(compileTemplate("").constant, true);
  assert.deepEqual(compileTemplate("$HTTP_User_Agent").parts, [{ variable: "http_user_agent" }]);
});

void test("compileTemplate rejects bad syntax like nginx", () => {
  assert.throws(() => compileTemplate("a$"), /invalid variable name/);
  assert.throws(() => compileTemplate("$-x"), /invalid variable name/);
  assert.throws(
    () => compileTemplate("${host"),
    /the closing bracket in "host" variable is missing/,
  );
});

void test("evaluate uses the lookup; unknown values are empty", () => {
  const vars: Record<string, string> = {
    scheme: "http",
    host: "example.com",
    request_uri: "/a?b",
    "1": "cap",
  };
  assert.equal(
    evaluate(compileTemplate("$scheme://$host$request_uri"), (n) => vars[n]),
    "http://example.com/a?b",
  );
  assert.equal(
    evaluate(compileTemplate("[$1][$2]"), (n) => vars[n]),
    "[cap][]",
  );
  assert.equal(
    evaluate(compileTemplate("const"), () => "never"),
    "const",
  );
});

void test("withCaptures answers $0..$9 and named captures before the request's variables", () => {
  const look = withCaptures({ numbered: ["/a/42", "a", "42"], named: { id: "42" } }, (n) =>
    n === "host" ? "h" : null,
  );
  assert.equal(evaluate(compileTemplate("$host/$1/$2/$3/$id/$0"), look), "h/a/42//42//a/42");
});

void test("builtin variables include the issue's list and the prefixed families", () => {
  for (const v of [
    "host",
    "remote_addr",
    "request_uri",
    "uri",
    "document_root",
    "realpath_root",
    "request_length",
    "proxy_add_x_forwarded_for",
    "http_user_agent",
    "arg_page",
    "cookie_sid",
    "time_iso8601",
    "msec",
  ]) {
    assert.ok(isBuiltinVariable(v), v);
  }
  assert.equal(isBuiltinVariable("foo"), false);
  assert.equal(isBuiltinVariable("http_"), false);
});

function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-vars-"));
  writeFileSync(join(dir, "main.conf"), text);
  return loadNginxConfig(join(dir, "main.conf"));
}

void test("`set` and named captures declare variables for the whole config, others are unknown", () => {
  const c = load(`server {
    location / { add_header X-A $later; add_header X-B $who; }
    location ~ ^/(?<who>[a-z]+)$ { set $later 1; }
}`);
  assert.deepEqual(c.userVariables, ["later", "who"]);
  assert.throws(
    () => load("server {\n  return 200 $nosuch;\n}\n"),
    (e: unknown) =>
      e instanceof ConfigError && /^unknown "nosuch" variable in .*main\.conf:2$/.test(e.message),
  );
});
