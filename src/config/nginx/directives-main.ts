/** The main and events contexts, and the blocks that give the config its shape. */
import type { DirectiveDecl, StructureHandler } from "./directive-types.js";
import { arg0, flagValue, numberValue, section, setting, sizeValue } from "./table-helpers.js";

const STRUCTURE: StructureHandler = { kind: "structure" };
const core = section("Core and structure");
const moot = section("Accepted without effect");

export const MAIN_DIRECTIVES: readonly DirectiveDecl[] = [
  core({
    name: "worker_processes",
    contexts: ["main"],
    args: [1, 1],
    syntax: "worker_processes number | auto;",
    default: "1",
    doc: "The number of front-end worker processes; `auto` means one per CPU core.",
    handler: setting("worker_processes", (c) =>
      arg0(c) === "auto" ? "auto" : numberValue(c, 0, 1),
    ),
  }),
  core({
    name: "pid",
    contexts: ["main"],
    args: [1, 1],
    syntax: "pid file;",
    doc: "Write the master process id to `file` (relative to the prefix); `narwhal -s SIGNAL` reads it. Default: no pid file (nginx has a compiled-in path).",
    handler: setting("pid", (c) => c.path(arg0(c)), { unset: null }),
  }),
  core({
    name: "include",
    contexts: ["main", "events", "http", "server", "location", "sif", "lif", "upstream", "app"],
    args: [1, 1],
    syntax: "include file | mask;",
    doc: "Read another file (or every file matching a glob such as `sites-enabled/*`, in sorted order; names starting with `.` only match a pattern starting with `.`) in place, in any context. Relative paths are relative to the main config file's directory. A pattern matching nothing is fine; a missing plain file is an error.",
    handler: { kind: "ignore" },
  }),
  core({
    name: "events",
    contexts: ["main"],
    args: [0, 0],
    block: true,
    syntax: "events { ... }",
    doc: "Connection processing settings. Required in a full `nginx.conf` (one with an `http` block), as in nginx.",
    handler: STRUCTURE,
  }),
  core({
    name: "worker_connections",
    contexts: ["events"],
    args: [1, 1],
    syntax: "worker_connections number;",
    default: "512",
    doc: "The maximum number of simultaneous connections per worker process.",
    handler: setting("worker_connections", (c) => numberValue(c, 0, 1)),
  }),
  core({
    name: "http",
    contexts: ["main"],
    args: [0, 0],
    block: true,
    syntax: "http { ... }",
    doc: "The HTTP server settings. A file without an `http` block is a bare site file: its top-level `server` and `upstream` blocks sit in an implicit `http` level that includes the shipped `conf/mime.types` and sets `default_type application/octet-stream`, like Debian's `nginx.conf` around `sites-enabled/*`.",
    handler: STRUCTURE,
  }),
  core({
    name: "server",
    contexts: ["http"],
    args: [0, 0],
    block: true,
    syntax: "server { ... }",
    doc: "A virtual server. Chosen per request by listening address, then by `server_name` against the Host header.",
    handler: STRUCTURE,
  }),
  core({
    name: "location",
    contexts: ["server", "location"],
    args: [1, 2],
    block: true,
    syntax: "location [ = | ~ | ~* | ^~ ] uri { ... }\nlocation @name { ... }",
    doc: "Settings by request URI, matched in nginx's order: an exact `=` match wins; else the longest prefix, and if it is `^~` regexes are skipped; else regexes (`~` case-sensitive, `~*` case-insensitive) in config order; else that longest prefix. Locations nest. `@name` locations are reachable only internally (`try_files`, `error_page`).",
    handler: STRUCTURE,
  }),
  core({
    name: "if",
    contexts: ["server", "location"],
    args: [1, Infinity],
    block: true,
    syntax: "if (condition) { ... }",
    doc: "Rewrite-module condition: `$var`, `$var = text`, `$var != text`, `$var ~ regex` (`~*`, `!~`, `!~*`), `-f`/`!-f`, `-d`, `-e`, `-x` on a path.",
    handler: STRUCTURE,
  }),
  core({
    name: "types",
    contexts: ["http", "server", "location"],
    args: [0, 0],
    block: true,
    syntax: "types { mime/type ext ...; ... }",
    default: "{ text/html html; image/gif gif; image/jpeg jpg; }",
    doc: "Maps file name extensions to MIME types. narwhal ships nginx's standard `conf/mime.types` (`include mime.types;`).",
    handler: STRUCTURE,
  }),
  moot({
    name: "user",
    contexts: ["main"],
    args: [1, 2],
    syntax: "user user [group];",
    effect: "moot",
    doc: "Accepted, no effect: narwhal does not change users; run it as the user it should be.",
    handler: setting("user", (c) => c.args.join(" "), { unset: null }),
  }),
  moot({
    name: "worker_rlimit_nofile",
    contexts: ["main"],
    args: [1, 1],
    syntax: "worker_rlimit_nofile number;",
    effect: "moot",
    doc: "Accepted, no effect: set the open-files limit in the service manager (`LimitNOFILE=`).",
    handler: setting("worker_rlimit_nofile", (c) => numberValue(c), { unset: null }),
  }),
  moot({
    name: "multi_accept",
    contexts: ["events"],
    args: [1, 1],
    syntax: "multi_accept on | off;",
    effect: "moot",
    doc: "Accepted, no effect (Node accepts every pending connection).",
    handler: { kind: "ignore", validate: (c) => void flagValue(c) },
  }),
  moot({
    name: "load_module",
    contexts: ["main"],
    args: [1, 1],
    syntax: "load_module file;",
    effect: "moot",
    doc: "Accepted, no effect: narwhal has no dynamic modules (stock Debian configs load some from modules-enabled/); their directives remain unknown.",
    handler: { kind: "ignore" },
  }),
  ...(["ssl_protocols", "ssl_prefer_server_ciphers"] as const).map((name) =>
    moot({
      name,
      contexts: ["http", "server"],
      args: [1, Infinity],
      syntax:
        name === "ssl_protocols"
          ? "ssl_protocols [TLSv1.2] [TLSv1.3] ...;"
          : "ssl_prefer_server_ciphers on | off;",
      effect: "moot",
      doc: "Accepted, no effect: present in stock Debian configs; narwhal does not terminate TLS (a `listen ... ssl` is refused).",
      handler: { kind: "ignore" },
    }),
  ),
  ...[
    "types_hash_max_size",
    "types_hash_bucket_size",
    "server_names_hash_max_size",
    "server_names_hash_bucket_size",
  ].map((name) =>
    moot({
      name,
      contexts: ["http"],
      args: [1, 1],
      syntax: `${name} size;`,
      effect: "moot",
      doc: "Accepted, no effect (narwhal's lookup tables need no sizing); present in stock Debian configs.",
      handler: { kind: "ignore", validate: (c) => void sizeValue(c) },
    }),
  ),
];
