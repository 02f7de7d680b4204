/** ngx_http_core_module and friends: files, headers, limits, timeouts, compression. */
import { isIP } from "node:net";
import type { ApplyContext, DirectiveDecl } from "./directive-types.js";
import type { AccessRule, AddHeader, ErrorPage, Expires, RootConf, TryFiles } from "./model.js";
import {
  HS,
  HSL,
  HSLI,
  arg0,
  enumValue,
  flagValue,
  listSetting,
  numberValue,
  section,
  setting,
  sizeValue,
  timeValue,
} from "./table-helpers.js";
import { parseNginxTime } from "./values.js";

const files = section("Files and locations");
const headers = section("Response headers and caching");
const gzipS = section("Compression");
const limits = section("Limits and timeouts");
const access = section("Access control");
const moot = section("Accepted without effect");

function rootValue(c: ApplyContext, alias: boolean): RootConf {
  const text = arg0(c);
  // A path starting with a variable is left for run time, like nginx.
  const path = text.startsWith("$") ? text : c.path(text);
  return { path: c.template(path), alias };
}

function parseTryFiles(c: ApplyContext): TryFiles {
  const last = c.args[c.args.length - 1]!;
  const files = c.args.slice(0, -1).map((a) => c.template(a));
  if (last.startsWith("=")) {
    const code = Number(last.slice(1));
    if (!/^=\d{3}$/.test(last) || code < 100 || code > 999) c.fail(`invalid code "${last}"`);
    return { files, fallback: { kind: "code", code } };
  }
  if (last.startsWith("@")) return { files, fallback: { kind: "named", name: last } };
  return { files, fallback: { kind: "uri", uri: c.template(last) } };
}

function parseErrorPage(c: ApplyContext): ErrorPage {
  const args = [...c.args];
  const uri = args.pop()!;
  let response: ErrorPage["response"] = null;
  const codes: number[] = [];
  for (const a of args) {
    if (a.startsWith("=")) {
      if (a === "=") response = "upstream";
      else {
        const n = Number(a.slice(1));
        if (!/^=\d+$/.test(a) || n < 0) c.fail(`invalid value "${a}"`);
        response = n;
      }
      continue;
    }
    if (!/^\d+$/.test(a)) c.fail(`invalid value "${a}"`);
    const n = Number(a);
    if (n < 300 || n > 599) c.fail(`value "${a}" must be between 300 and 599`);
    if (n === 499) c.fail(`value "${a}" is invalid`);
    codes.push(n);
  }
  if (codes.length === 0) c.fail(`invalid number of arguments in "error_page" directive`);
  return { codes, response, uri: c.template(uri) };
}

function parseAddHeader(c: ApplyContext): AddHeader {
  if (c.args.length === 3 && c.args[2] !== "always") c.fail(`invalid parameter "${c.args[2]!}"`);
  return { name: c.args[0]!, value: c.template(c.args[1]!), always: c.args.length === 3 };
}

/** `expires [modified] time | epoch | max | off` (ngx_http_headers_module). */
function parseExpires(c: ApplyContext): Expires {
  let args = [...c.args];
  let modified = false;
  if (args[0] === "modified") {
    if (args.length !== 2) c.fail('invalid number of arguments in "expires" directive');
    modified = true;
    args = args.slice(1);
  } else if (args.length !== 1) c.fail('invalid number of arguments in "expires" directive');
  const v = args[0]!;
  if (!modified) {
    if (v === "off") return { kind: "off" };
    if (v === "epoch") return { kind: "epoch" };
    if (v === "max") return { kind: "max" };
  }
  if (v.startsWith("@")) {
    const t = parseNginxTime(v.slice(1));
    if (t === null || t > 86400) c.invalid(v);
    return { kind: "daily", seconds: t };
  }
  const neg = v.startsWith("-");
  const t = parseNginxTime(v.replace(/^[+-]/, ""));
  if (t === null) c.invalid(v);
  return { kind: "after", seconds: neg ? -t : t, modified };
}

function parseAccessRule(c: ApplyContext): AccessRule {
  const action = c.name as "allow" | "deny";
  const v = arg0(c);
  if (v === "all") return { action, address: "all", prefix: 0, family: "all" };
  if (v === "unix:") return { action, address: "unix:", prefix: 0, family: "unix" };
  const [addr = "", bits] = v.split("/");
  const ver = isIP(addr);
  if (ver === 0) c.fail(`invalid parameter "${v}"`);
  const max = ver === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (bits !== undefined && (!/^\d+$/.test(bits) || prefix > max))
    c.fail(`invalid parameter "${v}"`);
  return { action, address: addr, prefix, family: ver === 4 ? "IPv4" : "IPv6" };
}

export const HTTP_DIRECTIVES: readonly DirectiveDecl[] = [
  // --- files and locations
  files({
    name: "root",
    contexts: HSLI,
    args: [1, 1],
    syntax: "root path;",
    default: "html",
    doc: "The directory requests are served from: the file is `root` + `$uri`. Relative paths are relative to the prefix. Variables are allowed (not `$document_root`).",
    handler: setting("root", (c) => rootValue(c, false)),
  }),
  files({
    name: "alias",
    contexts: ["location"],
    args: [1, 1],
    syntax: "alias path;",
    doc: "Replace the location's prefix with `path`: with `location /static/ { alias /srv/s/; }` the URI `/static/a.css` is the file `/srv/s/a.css`. narwhal never lets the result leave `path`, including the classic `location /static { alias /srv/s/; }` slip.",
    handler: setting("root", (c) => rootValue(c, true)),
  }),
  files({
    name: "index",
    contexts: HSL,
    args: [1, Infinity],
    syntax: "index file ...;",
    default: "index.html",
    doc: "Files tried, in order, for a URI ending in `/`. The first that exists is served via an internal redirect.",
    handler: setting("index", (c) => c.args.map((a) => c.template(a))),
  }),
  files({
    name: "try_files",
    contexts: ["server", "location"],
    args: [2, Infinity],
    syntax: "try_files file ... uri;\ntry_files file ... =code;",
    doc: "Serve the first of the files that exists (`$uri/` tests a directory); otherwise an internal redirect to the last argument: a URI, a named location `@name`, or `=code`. Not inherited.",
    handler: setting("try_files", parseTryFiles, { merge: "none", unset: null }),
  }),
  files({
    name: "internal",
    contexts: ["location"],
    args: [0, 0],
    syntax: "internal;",
    doc: "The location serves only internal redirects (error_page, try_files, index, rewrite); a client request for it gets 404. Not inherited.",
    handler: setting("internal", () => true, { merge: "none", unset: false }),
  }),
  files({
    name: "error_page",
    contexts: HSLI,
    args: [2, Infinity],
    syntax: "error_page code ... [=[response]] uri;",
    doc: "The URI (or `@name`, or an absolute URL → 302) shown for the given error codes; `=code` changes the status. Inherited only by levels that have no `error_page` of their own.",
    handler: listSetting("error_page", parseErrorPage),
  }),
  files({
    name: "default_type",
    contexts: HSL,
    args: [1, 1],
    syntax: "default_type mime-type;",
    default: "text/plain",
    doc: "The Content-Type of files whose extension `types` does not know.",
    handler: setting("default_type", arg0),
  }),
  files({
    name: "autoindex",
    contexts: HSL,
    args: [1, 1],
    syntax: "autoindex on | off;",
    default: "off",
    doc: "List a directory that has no index file (otherwise 403).",
    handler: setting("autoindex", (c) => flagValue(c)),
  }),
  files({
    name: "disable_symlinks",
    contexts: HSL,
    args: [1, 2],
    syntax: "disable_symlinks off;\ndisable_symlinks on | if_not_owner [from=part];",
    default: "off",
    doc: "With `on`, a path with a symbolic link in any component is refused (403); `if_not_owner` allows links owned by the target's owner; `from=` skips the checks for the leading part. Whatever this says, narwhal never follows a link out of `root`/`alias` unless it is `off`.",
    handler: setting("disable_symlinks", (c) => {
      const mode = enumValue(c, ["off", "on", "if_not_owner"] as const);
      if (c.args.length === 2) {
        if (mode === "off" || !c.args[1]!.startsWith("from="))
          c.fail(`invalid parameter "${c.args[1]!}"`);
        return { mode, from: c.template(c.args[1]!.slice(5)) };
      }
      return { mode, from: null };
    }),
  }),
  files({
    name: "dotfiles",
    contexts: HSL,
    args: [1, 1],
    syntax: "dotfiles on | off;",
    default: "off",
    doc: "narwhal extension: serve files and directories whose name starts with a dot (`.git`, `.env`). Off: such paths get 404.",
    handler: setting("dotfiles", (c) => flagValue(c)),
  }),
  files({
    name: "merge_slashes",
    contexts: HS,
    args: [1, 1],
    syntax: "merge_slashes on | off;",
    default: "on",
    doc: "Collapse runs of `/` in the URI before matching locations.",
    handler: setting("merge_slashes", (c) => flagValue(c)),
  }),
  files({
    name: "server_name_in_redirect",
    contexts: HSL,
    args: [1, 1],
    syntax: "server_name_in_redirect on | off;",
    default: "off",
    doc: "In absolute redirects issued by the server, use the server's first `server_name` instead of the Host header.",
    handler: setting("server_name_in_redirect", (c) => flagValue(c)),
  }),
  files({
    name: "absolute_redirect",
    contexts: HSL,
    args: [1, 1],
    syntax: "absolute_redirect on | off;",
    default: "on",
    doc: "Redirects issued by the server (directory slash, `return 301 /x`) carry an absolute `Location` (`http://host:port/x`); off: a relative one.",
    handler: setting("absolute_redirect", (c) => flagValue(c)),
  }),
  // --- response headers and caching
  headers({
    name: "add_header",
    contexts: HSLI,
    args: [2, 3],
    syntax: "add_header name value [always];",
    doc: "Add a response header to 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308 responses, or to every response with `always`. Inherited only by levels that have no `add_header` of their own.",
    handler: listSetting("add_header", parseAddHeader),
  }),
  headers({
    name: "expires",
    contexts: HSLI,
    args: [1, 2],
    syntax: "expires [modified] time;\nexpires epoch | max | off;",
    default: "off",
    doc: "Set `Expires` and `Cache-Control: max-age` (negative times give `no-cache`; `epoch` a 1970 date; `max` ten years; `@15h30m` a time of day).",
    handler: setting("expires", parseExpires),
  }),
  headers({
    name: "etag",
    contexts: HSL,
    args: [1, 1],
    syntax: "etag on | off;",
    default: "on",
    doc: 'Send `ETag: "<mtime hex>-<size hex>"` for static files, as nginx.',
    handler: setting("etag", (c) => flagValue(c)),
  }),
  headers({
    name: "if_modified_since",
    contexts: HSL,
    args: [1, 1],
    syntax: "if_modified_since off | exact | before;",
    default: "exact",
    doc: "How `If-Modified-Since` is compared with the file time: `exact` match, `before` (file not newer), or `off` (ignored).",
    handler: setting("if_modified_since", (c) => enumValue(c, ["off", "exact", "before"] as const)),
  }),
  headers({
    name: "max_ranges",
    contexts: HSL,
    args: [1, 1],
    syntax: "max_ranges number;",
    doc: "The most ranges a `Range` request may ask for; more and the whole file is sent. 0 disables ranges. Default unlimited.",
    handler: setting("max_ranges", (c) => numberValue(c), { unset: null }),
  }),
  headers({
    name: "charset",
    contexts: HSLI,
    args: [1, 1],
    syntax: "charset charset | off;",
    default: "off",
    doc: "Append `; charset=...` to the Content-Type of text responses.",
    handler: setting("charset", (c) => (arg0(c) === "off" ? null : arg0(c))),
  }),
  headers({
    name: "charset_types",
    contexts: HSL,
    args: [1, Infinity],
    syntax: "charset_types mime-type ...;",
    default:
      "text/html text/xml text/plain text/vnd.wap.wml application/javascript application/rss+xml",
    doc: "MIME types that get `charset` (besides `text/html`, always); `*` means any.",
    handler: setting("charset_types", (c) => [...new Set(["text/html", ...c.args])]),
  }),
  files({
    name: "log_not_found",
    contexts: HSL,
    args: [1, 1],
    syntax: "log_not_found on | off;",
    default: "on",
    doc: "Log requests for files that do not exist in the error log.",
    handler: setting("log_not_found", (c) => flagValue(c)),
  }),
  headers({
    name: "server_tokens",
    contexts: HSL,
    args: [1, 1],
    syntax: "server_tokens on | off | build;",
    default: "on",
    doc: "`on`: `Server: narwhal/VERSION` and the version on error pages; `off`: `Server: narwhal`.",
    handler: setting("server_tokens", (c) => enumValue(c, ["on", "off", "build"] as const)),
  }),
  // --- compression
  gzipS({
    name: "gzip",
    contexts: HSLI,
    args: [1, 1],
    syntax: "gzip on | off;",
    default: "off",
    doc: "Compress responses of the `gzip_types` on the fly for clients that accept gzip.",
    handler: setting("gzip", (c) => flagValue(c)),
  }),
  gzipS({
    name: "gzip_types",
    contexts: HSL,
    args: [1, Infinity],
    syntax: "gzip_types mime-type ...;",
    default: "text/html",
    doc: "MIME types compressed besides `text/html` (always); `*` means any.",
    handler: setting("gzip_types", (c) => [...new Set(["text/html", ...c.args])]),
  }),
  gzipS({
    name: "gzip_min_length",
    contexts: HSL,
    args: [1, 1],
    syntax: "gzip_min_length length;",
    default: "20",
    doc: "Do not compress responses shorter than this (by Content-Length).",
    handler: setting("gzip_min_length", (c) => sizeValue(c)),
  }),
  gzipS({
    name: "gzip_comp_level",
    contexts: HSL,
    args: [1, 1],
    syntax: "gzip_comp_level level;",
    default: "1",
    doc: "zlib compression level, 1 to 9.",
    handler: setting("gzip_comp_level", (c) => numberValue(c, 0, 1, 9)),
  }),
  gzipS({
    name: "gzip_vary",
    contexts: HSL,
    args: [1, 1],
    syntax: "gzip_vary on | off;",
    default: "off",
    doc: "Add `Vary: Accept-Encoding` when gzip or gzip_static is active.",
    handler: setting("gzip_vary", (c) => flagValue(c)),
  }),
  gzipS({
    name: "gzip_http_version",
    contexts: HSL,
    args: [1, 1],
    syntax: "gzip_http_version 1.0 | 1.1;",
    default: "1.1",
    doc: "The lowest HTTP version of a request for which responses are compressed.",
    handler: setting("gzip_http_version", (c) => enumValue(c, ["1.0", "1.1"] as const)),
  }),
  gzipS({
    name: "gzip_static",
    contexts: HSL,
    args: [1, 1],
    syntax: "gzip_static on | off | always;",
    default: "off",
    doc: "Serve `file.gz` next to `file` to clients that accept gzip (`always`: to every client), with `Vary: Accept-Encoding`.",
    handler: setting("gzip_static", (c) => enumValue(c, ["off", "on", "always"] as const)),
  }),
  // --- limits and timeouts
  limits({
    name: "client_max_body_size",
    contexts: HSL,
    args: [1, 1],
    syntax: "client_max_body_size size;",
    default: "1m",
    doc: "The largest request body accepted; larger gets 413. 0 disables the check.",
    handler: setting("client_max_body_size", (c) => sizeValue(c)),
  }),
  limits({
    name: "client_body_buffer_size",
    contexts: HSL,
    args: [1, 1],
    syntax: "client_body_buffer_size size;",
    default: "16k",
    doc: "Request bodies up to this size are kept in memory; larger ones go to a temporary file.",
    handler: setting("client_body_buffer_size", (c) => sizeValue(c)),
  }),
  limits({
    name: "client_header_timeout",
    contexts: HS,
    args: [1, 1],
    syntax: "client_header_timeout time;",
    default: "60s",
    doc: "Time allowed to receive the whole request head; then 408 and close.",
    handler: setting("client_header_timeout", (c) => timeValue(c)),
  }),
  limits({
    name: "client_body_timeout",
    contexts: HSL,
    args: [1, 1],
    syntax: "client_body_timeout time;",
    default: "60s",
    doc: "Longest pause between two reads of the request body; then 408.",
    handler: setting("client_body_timeout", (c) => timeValue(c)),
  }),
  limits({
    name: "send_timeout",
    contexts: HSL,
    args: [1, 1],
    syntax: "send_timeout time;",
    default: "60s",
    doc: "Longest pause between two successful writes to a slow client; then the connection is closed.",
    handler: setting("send_timeout", (c) => timeValue(c)),
  }),
  limits({
    name: "keepalive_timeout",
    contexts: HSL,
    args: [1, 2],
    syntax: "keepalive_timeout timeout [header_timeout];",
    default: "75s",
    doc: "How long an idle keep-alive connection stays open (0 disables keep-alive); the optional second value is sent as `Keep-Alive: timeout=N`.",
    handler: setting("keepalive_timeout", (c) => {
      const timeout = timeValue(c);
      return { timeout, header: c.args.length === 2 ? timeValue(c, 1) : null };
    }),
  }),
  limits({
    name: "keepalive_requests",
    contexts: HSL,
    args: [1, 1],
    syntax: "keepalive_requests number;",
    default: "1000",
    doc: "Requests served on one keep-alive connection before it is closed.",
    handler: setting("keepalive_requests", (c) => numberValue(c)),
  }),
  limits({
    name: "large_client_header_buffers",
    contexts: HS,
    args: [2, 2],
    syntax: "large_client_header_buffers number size;",
    default: "4 8k",
    doc: "The request line may not exceed `size` (414) and no header line may exceed `size` (400), as nginx.",
    handler: setting("large_client_header_buffers", (c) => ({
      number: numberValue(c, 0, 1),
      size: sizeValue(c, 1),
    })),
  }),
  // --- access control
  access({
    name: "allow",
    contexts: HSL,
    args: [1, 1],
    syntax: "allow address | CIDR | unix: | all;",
    doc: "Allow clients by address; `allow` and `deny` rules are checked in order, the first match decides (403 for deny).",
    handler: listSetting("access", parseAccessRule),
  }),
  access({
    name: "deny",
    contexts: HSL,
    args: [1, 1],
    syntax: "deny address | CIDR | unix: | all;",
    doc: "Deny clients by address (see `allow`).",
    handler: listSetting("access", parseAccessRule),
  }),
  // --- moot in narwhal's design
  ...(["sendfile", "tcp_nopush", "tcp_nodelay"] as const).map((name) =>
    moot({
      name,
      contexts: name === "sendfile" ? HSLI : HSL,
      args: [1, 1],
      syntax: `${name} on | off;`,
      default: name === "tcp_nodelay" ? "on" : "off",
      effect: "moot",
      doc: "Accepted, no effect: narwhal's socket writes already choose their own strategy.",
      handler: setting(name, (c) => flagValue(c)),
    }),
  ),
];
