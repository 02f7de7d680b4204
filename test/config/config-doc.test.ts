import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/core/paths.js";
import { renderConfigDoc } from "../../scripts/config-doc.js";
import { DIRECTIVES } from "../../src/config/nginx/index.js";

void test("docs/config.md is generated from the directive table (run `npm run docs`)", () => {
  const onDisk = readFileSync(join(repoRoot(), "docs/config.md"), "utf8");
  assert.equal(onDisk, renderConfigDoc());
});

void test("every directive of issue 5 and the article's proxy directives are declared", () => {
  const names = new Set(DIRECTIVES.map((d) => d.name));
  const required =
    `worker_processes events worker_connections http server listen server_name location root alias
    index try_files return rewrite error_page internal set add_header expires etag if_modified_since max_ranges types
    default_type charset gzip gzip_types gzip_min_length gzip_comp_level gzip_vary gzip_static client_max_body_size
    client_body_buffer_size client_header_timeout client_body_timeout send_timeout keepalive_timeout keepalive_requests
    large_client_header_buffers access_log log_format error_log server_tokens allow deny autoindex absolute_redirect
    merge_slashes disable_symlinks sendfile tcp_nopush tcp_nodelay user pid worker_rlimit_nofile include
    upstream proxy_pass proxy_set_header proxy_redirect if`.split(/\s+/);
  const missing = required.filter((n) => !names.has(n));
  assert.deepEqual(missing, []);
  for (const n of ["sendfile", "tcp_nopush", "tcp_nodelay", "user", "worker_rlimit_nofile"]) {
    assert.equal(DIRECTIVES.find((d) => d.name === n)!.effect, "moot", n);
  }
  assert.equal(DIRECTIVES.find((d) => d.name === "pid")!.effect, "honoured");
});
