/** Lexer/parser details nginx users rely on, includes with globs, and the frozen model. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.js";
import { parseText } from "../../src/config/nginx/parser.js";
import { loadNginxConfig } from "../../src/config/nginx/index.js";

const parse = (text: string) => parseText(text, "t.conf", { includeBase: "/nonexistent" });
const words = (text: string) => parse(text).map((d) => [d.name, ...d.args]);

void test("words, quotes and escapes as ngx_conf_read_token", () => {
  assert.deepEqual(words(`a "b c" 'd e' f\\ g "h\\"i" 'j\\'k' "\\t\\n" \\d;`), [
    ["a", "b c", "d e", "f\\ g", 'h"i', "j'k", "\t\n", "\\d"],
  ]);
  assert.deepEqual(words("a ${b}c f;"), [["a", "${b}c", "f"]]);
  // only "${" is protected: "$d{" opens a block, as in nginx
  assert.equal(parse("a $d{ b; }")[0]!.block!.length, 1);
  assert.deepEqual(words("a#b c; # comment ; {\nd;"), [["a#b", "c"], ["d"]]);
  assert.deepEqual(words("a\r\n\tb\r\n;"), [["a", "b"]]);
  assert.deepEqual(words('a "";'), [["a", ""]]);
  assert.deepEqual(words("a b}c;"), [["a", "b}c"]]);
});

void test("blocks nest and lines are where ; or { was read", () => {
  const t = parse("a {\n  b\n  c;\n  d {\n  }\n}\n");
  assert.equal(t[0]!.line, 1);
  assert.equal(t[0]!.block![0]!.name, "b");
  assert.equal(t[0]!.block![0]!.line, 3);
  assert.deepEqual(t[0]!.block![1]!.block, []);
});

void test("lexer errors read like nginx's", () => {
  const cases: Array<[string, string]> = [
    ["a;\n}", 'unexpected "}" in t.conf:2'],
    ["a {", 'unexpected end of file, expecting "}" in t.conf:1'],
    ["a", 'unexpected end of file, expecting ";" or "}" in t.conf:1'],
    ['a "b', 'unexpected end of file, expecting ";" or "}" in t.conf:1'],
    ["{", 'unexpected "{" in t.conf:1'],
    ["a b }", 'unexpected "}" in t.conf:1'],
    ['a "b"c;', 'unexpected "c" in t.conf:1'],
  ];
  for (const [text, msg] of cases) {
    assert.throws(
      () => parse(text),
      (e: unknown) => e instanceof ConfigError && e.message === msg,
      text,
    );
  }
});

void test("include: globs sorted, dotfiles skipped, no match is fine, relative to the config dir", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-inc-"));
  mkdirSync(join(dir, "sites"));
  writeFileSync(join(dir, "sites", "b.conf"), "server { listen 8002; }\n");
  writeFileSync(join(dir, "sites", "a.conf"), "server { listen 8001; }\n");
  writeFileSync(join(dir, "sites", ".hidden.conf"), "broken {\n");
  writeFileSync(
    join(dir, "main.conf"),
    "events {}\nhttp {\n include sites/*.conf;\n include none/*.conf;\n}\n",
  );
  const c = loadNginxConfig(join(dir, "main.conf"));
  assert.deepEqual(
    c.servers.map((s) => s.listen[0]!.port),
    [8001, 8002],
  );
  assert.equal(c.servers[0]!.file, join(dir, "sites", "a.conf"));
});

void test("include inside a block and in any context; an include loop is stopped", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-inc-"));
  writeFileSync(join(dir, "loc.inc"), "add_header X-Inc 1;\n");
  writeFileSync(
    join(dir, "main.conf"),
    "server {\n listen 8080;\n location / {\n  include loc.inc;\n }\n}\n",
  );
  const c = loadNginxConfig(join(dir, "main.conf"));
  assert.equal(c.servers[0]!.locations[0]!.conf.add_header[0]!.name, "X-Inc");
  writeFileSync(join(dir, "loop.conf"), "include loop.conf;\n");
  assert.throws(() => loadNginxConfig(join(dir, "loop.conf")), /too deep include nesting/);
});

void test("the built model is deeply frozen", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-frz-"));
  writeFileSync(
    join(dir, "main.conf"),
    "server {\n listen 8080;\n location / { add_header A b; }\n}\n",
  );
  const c = loadNginxConfig(join(dir, "main.conf"));
  const loc = c.servers[0]!.locations[0]!;
  assert.ok(
    Object.isFrozen(c) &&
      Object.isFrozen(c.servers) &&
      Object.isFrozen(loc.conf) &&
      Object.isFrozen(loc.conf.add_header[0]),
  );
  assert.ok(Object.isFrozen(loc.conf.types) && Object.isFrozen(c.servers[0]!.listen[0]));
  assert.throws(() => {
    (loc.conf as { etag: boolean }).etag = false;
  }, TypeError);
});

void test("a bare site file gets the shipped mime.types and application/octet-stream; a full config gets nginx's defaults", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-mime-"));
  writeFileSync(join(dir, "site.conf"), "server { listen 8080; }\n");
  writeFileSync(join(dir, "full.conf"), "events {}\nhttp { server { listen 8080; } }\n");
  const bare = loadNginxConfig(join(dir, "site.conf"));
  assert.equal(bare.servers[0]!.conf.types["css"], "text/css");
  assert.equal(bare.servers[0]!.conf.default_type, "application/octet-stream");
  const full = loadNginxConfig(join(dir, "full.conf"));
  assert.equal(full.servers[0]!.conf.types["css"], undefined);
  assert.equal(full.servers[0]!.conf.types["html"], "text/html");
  assert.equal(full.servers[0]!.conf.default_type, "text/plain");
  assert.equal(full.servers[0]!.conf.root.path.source, join(dir, "html"));
});

void test("-g directives go to the main context; duplicates with the file are reported", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-g-"));
  writeFileSync(join(dir, "main.conf"), "pid p.pid;\nserver { listen 8080; }\n");
  assert.throws(
    () => loadNginxConfig(join(dir, "main.conf"), { globalDirectives: "pid other.pid;" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === `"pid" directive is duplicate in ${join(dir, "main.conf")}:1`,
  );
  const c = loadNginxConfig(join(dir, "main.conf"), {
    globalDirectives: "worker_processes 3;",
    prefix: "/srv/prefix",
  });
  assert.equal(c.main.worker_processes, 3);
  assert.equal(c.main.pid, "/srv/prefix/p.pid");
});

void test("property: any text either parses or fails with a ConfigError (never another exception)", async () => {
  const fc = (await import("fast-check")).default;
  const dir = mkdtempSync(join(tmpdir(), "narwhal-fuzz-"));
  const piece = fc.constantFrom(
    "server",
    "location",
    "listen",
    "root",
    "alias",
    "if",
    "return",
    "rewrite",
    "set",
    "add_header",
    "8080",
    "/a/",
    "~",
    "=",
    "^~",
    "@x",
    "$uri",
    "${host}",
    "$",
    "(",
    ")",
    "{",
    "}",
    ";",
    " ",
    "\n",
    '"',
    "'",
    "\\",
    "#",
    "types",
    "upstream",
    "events",
    "http",
    "include",
    "*",
    "[::]:80",
    "unix:",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      const file = join(dir, "fuzz.conf");
      writeFileSync(file, parts.join(""));
      try {
        loadNginxConfig(file);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
      }
    }),
    { numRuns: 600 },
  );
});
