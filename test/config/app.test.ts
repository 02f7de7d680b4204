// `app NAME { ... }` blocks: every WSGI gateway setting of the settings table is a
// directive under its Gunicorn name, converted by the setting's kind like the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.js";
import { loadNginxConfig, type NginxConfig } from "../../src/config/nginx/index.js";
import { APP_EXCLUDED, APP_SETTINGS } from "../../src/config/nginx/directives-app.js";
import { lookupDirective } from "../../src/config/nginx/table.js";
import { SETTINGS } from "../../src/config/settings.js";

const dir = mkdtempSync(join(tmpdir(), "narwhal-app-conf-"));
let n = 0;
function load(text: string): NginxConfig {
  const file = join(dir, `c${n++}.conf`);
  writeFileSync(file, text);
  return loadNginxConfig(file);
}
function error(text: string): string {
  try {
    load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.replace(/ in \/.*:(\d+)$/, " in FILE:$1");
  }
  assert.fail("the config loaded");
}

/** A valid textual value per kind, and what it converts to. */
const SAMPLE: Record<string, [string, unknown]> = {
  int: ["7", 7],
  float: ["1.5", 1.5],
  size: ["8k", 8192],
  duration: ["500ms", 0.5],
  bool: ["on", true],
  string: ["/x/y", "/x/y"],
  list: ["K=V", ["K=V"]],
};

void test("every Worker processes / Supervision setting is an app directive, but the excluded ones", () => {
  const names = new Set(APP_SETTINGS.map((s) => s.name));
  for (const s of SETTINGS) {
    const gateway = s.section === "Worker processes" || s.section === "Supervision";
    if (!gateway) continue;
    assert.equal(names.has(s.name), !(s.name in APP_EXCLUDED), s.name);
    assert.equal(
      lookupDirective(s.name, "app") !== null,
      !(s.name in APP_EXCLUDED) || s.name === "wsgi_app",
      s.name,
    );
  }
  assert.ok(names.has("forwarded_allow_ips"));
  // Not gateway settings: the site's own directives cover them.
  assert.equal(lookupDirective("keepalive", "app"), null);
  assert.equal(lookupDirective("accesslog", "app"), null);
});

void test("each app setting converts by its kind, as on the command line", () => {
  for (const s of APP_SETTINGS) {
    const sample =
      s.kind === "enum"
        ? [s.choices![0]!, s.choices![0]!]
        : s.name === "forwarded_allow_ips"
          ? ["10.0.0.0/8,::1", "10.0.0.0/8,::1"]
          : SAMPLE[s.kind];
    assert.ok(sample, `no sample for kind ${s.kind}`);
    const [text, want] = sample as [string, unknown];
    const c = load(`app a {\n    module m:app;\n    ${s.name} ${text};\n}\n`);
    const got = Object.fromEntries(c.apps["a"]!.settings.entries())[s.name];
    assert.deepEqual(got, want, s.name);
  }
});

void test("aliases from the long flags: env, preload, name; and Gunicorn's wsgi_app", () => {
  const c = load(
    "app a {\n    wsgi_app m:app;\n    env A=1 B=x=y;\n    preload on;\n    name site;\n}\n",
  );
  const a = c.apps["a"]!;
  assert.equal(a.module, "m:app");
  assert.deepEqual(a.settings.list("raw_env"), ["A=1", "B=x=y"]);
  assert.equal(a.settings.bool("preload_app"), true);
  assert.equal(a.settings.strOrNull("proc_name"), "site");
  // Left out: the settings table's defaults.
  assert.equal(a.settings.num("workers"), 1);
  assert.equal(a.settings.num("timeout"), 30);
  assert.equal(a.settings.num("max_queue"), 1024);
});

void test("values are checked with nginx-style messages", () => {
  const app = (body: string): string => error(`app a {\n    module m:app;\n    ${body}\n}\n`);
  assert.equal(
    app("workers two;"),
    'invalid value "two" in "workers" directive, expected an integer in FILE:3',
  );
  assert.equal(
    app("timeout soon;"),
    'invalid value "soon" in "timeout" directive, expected seconds such as 30, 30s, 500ms in FILE:3',
  );
  assert.equal(
    app("preload maybe;"),
    'invalid value "maybe" in "preload" directive, expected true or false in FILE:3',
  );
  assert.equal(
    app("max_queue -1;"),
    'invalid value "-1" in "max_queue" directive, must be at least 0 in FILE:3',
  );
  assert.equal(app("workers 2;\n    workers 3;"), '"workers" directive is duplicate in FILE:4');
  assert.equal(app("threads;"), 'invalid number of arguments in "threads" directive in FILE:3');
  assert.equal(app("module n:app;"), '"module" directive is duplicate in FILE:3');
  assert.equal(
    app("wsgi_app n:app;"),
    '"wsgi_app" directive is duplicate, "module" directive was specified earlier in FILE:3',
  );
  assert.equal(
    app("forwarded_allow_ips 127.0.0.1,localhost;"),
    'invalid value "127.0.0.1,localhost" in "forwarded_allow_ips" directive, "localhost" is not an address or network in FILE:3',
  );
  assert.equal(
    app("forwarded_allow_ips 10.0.0.0/33;"),
    'invalid value "10.0.0.0/33" in "forwarded_allow_ips" directive, "10.0.0.0/33" is not an address or network in FILE:3',
  );
  assert.equal(app("pidfile /x;"), 'unknown directive "pidfile" in FILE:3');
  assert.equal(app("umask 022;"), 'unknown directive "umask" in FILE:3');
  assert.equal(
    error("app a {\n    module 'bad module';\n}\n"),
    'invalid value "bad module" in "module" directive in FILE:2',
  );
  assert.equal(
    error("server {\n    app_pass a;\n}\n"),
    '"app_pass" directive is not allowed here in FILE:2',
  );
  assert.equal(
    error("server {\n    location / {\n        app_pass a b;\n    }\n}\n"),
    'invalid number of arguments in "app_pass" directive in FILE:3',
  );
  assert.equal(
    error("server {\n    location / {\n        app x {\n        }\n    }\n}\n"),
    '"app" directive is not allowed here in FILE:3',
  );
});

void test("the syntax test/deploy and bench/deploy write: a bare site file", () => {
  const c = load(`app server_django {
    module lifecycle.wsgi:application;
    chdir /srv/lifecycle;
    python /usr/bin/python3;
    workers 2;
}
server {
    listen 127.0.0.1:8080;
    location / {
        app_pass server_django;
    }
    location /static/ {
        alias /srv/static/;
    }
}
`);
  const a = c.apps["server_django"]!;
  assert.equal(a.module, "lifecycle.wsgi:application");
  assert.equal(a.settings.num("workers"), 2);
  assert.equal(a.settings.strOrNull("chdir"), "/srv/lifecycle");
  assert.equal(a.settings.strOrNull("python"), "/usr/bin/python3");
  const [root, stat] = c.servers[0]!.locations;
  assert.equal(root!.conf.app_pass, "server_django");
  assert.equal(stat!.conf.app_pass, null);
});

void test("a full nginx.conf: app blocks in http, app_pass before the app is declared", () => {
  const c = load(`events {}
http {
    server {
        listen 8080;
        location / { app_pass later; }
    }
    app later { module m:app; threads 4; }
}
`);
  assert.equal(c.apps["later"]!.settings.num("threads"), 4);
  assert.equal(
    error("events {}\napp a { module m:app; }\nhttp {}\n"),
    '"app" directive is not allowed here in FILE:2',
  );
});

void test("relative chdir and client_body_temp_path resolve against the prefix, like root", () => {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-app-prefix-"));
  const file = join(dir, "site.conf");
  writeFileSync(
    file,
    "app a { module m:app; chdir .; client_body_temp_path tmp/bodies; }\n" +
      "server { listen 127.0.0.1:8080; location / { app_pass a; } }\n",
  );
  const prefix = join(dir, "pfx");
  const a = loadNginxConfig(file, { prefix }).apps["a"]!;
  assert.equal(a.settings.strOrNull("chdir"), prefix);
  assert.equal(a.settings.strOrNull("client_body_temp_path"), join(prefix, "tmp/bodies"));
});
