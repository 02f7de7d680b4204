/**
 * The static file handler: nginx's index, autoindex, gzip_static and static modules with
 * the not_modified, range, gzip and headers (expires) filters, over the pure policies in
 * this folder and the one I/O module (files.ts).
 *
 * The pipeline owns error pages: whenever nginx would produce a special response (403,
 * 404, 405, 412, 416, 500, the directory 301), serveStatic writes nothing and returns a
 * StaticOutcome telling the pipeline which status (and headers) to produce, so that
 * `error_page` can apply.
 */
import type { Logger } from "../core/log.js";
import type { HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import { renderAutoindex, escapeUriPath } from "./autoindex.js";
import { closeQuietly, listDirectory, openContained } from "./files.js";
import { acceptsGzip, gzipVersionOk } from "./gzip.js";
import { contentTypeFor } from "./mime.js";
import type { StaticOptions } from "./options.js";
import { sent, status, type Step, type StaticOutcome } from "./outcome.js";
import { resolveStaticPath } from "./resolve.js";
import { pushExtra, sendFile } from "./send.js";
import { loadSource, release } from "./source.js";

export type { StaticOutcome } from "./outcome.js";

function logOpenError(
  log: Logger,
  opts: StaticOptions,
  path: string,
  r: { status: number; message: string },
): void {
  if (r.status === 404 && !opts.logNotFound) return;
  log.error(`open() "${path}" failed (${r.message})`);
}

/**
 * Serve `uri` (decoded and normalised, nginx `$uri`) from the file system.
 * `args` is the query string kept on the directory redirect (nginx `$args`).
 * @example
 *   const out = await serveStatic(req, res, "/css/site.css", staticOptions({ root: "/srv/www" }), log);
 *   if (out.kind === "status") res.sendError(out.status, out.headers);
 */
export async function serveStatic(...a: Parameters<typeof serveStaticNow>): Promise<StaticOutcome> {
  return serveStaticNow(...a);
}

/**
 * As serveStatic, but the outcome comes back as it is when it is ready at once (a cached
 * file written in one go, a 404, a redirect): no promise or microtask for those, which
 * are most static requests. Throws where serveStatic would reject.
 */
export function serveStaticNow(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  opts: StaticOptions,
  log: Logger,
  args: string = req.query,
): StaticOutcome | Promise<StaticOutcome> {
  return serveAt(req, res, uri, opts, log, args, 0);
}

function serveAt(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  opts: StaticOptions,
  log: Logger,
  args: string,
  depth: number,
): Step {
  const method = req.method;
  // ngx_http_static_module: only GET, HEAD and POST reach a file; nginx sends no Allow.
  if (method !== "GET" && method !== "HEAD" && method !== "POST") return status(405);
  const r = resolveStaticPath(uri, opts);
  if (!r.ok) {
    log.debug(`static: refused "${uri}": ${r.reason}`);
    return status(r.status);
  }
  if (uri.endsWith("/"))
    return serveDirectory(req, res, uri, r.path, r.jail, r.rel, opts, log, depth);

  let vary = false;
  if (opts.gzipStatic !== "off" && method !== "POST") {
    const want =
      opts.gzipStatic === "always" ||
      (acceptsGzip(req.header("accept-encoding")) &&
        gzipVersionOk(opts.gzip, req.versionMajor, req.versionMinor));
    const gz = loadSource(r.path + ".gz", r.jail, r.rel + ".gz", opts);
    if (gz.kind === "source") {
      // The response now depends on Accept-Encoding whether or not this client gets the .gz.
      vary = opts.gzipStatic === "on";
      if (want) return sendFile(req, res, uri, gz.src, opts, "gzip", vary);
      release(gz.src);
    }
  }
  const loaded = loadSource(r.path, r.jail, r.rel, opts);
  if (loaded.kind === "dir") {
    // nginx: 301 to the URI with a slash, query string kept.
    return {
      kind: "redirect",
      status: 301,
      location: escapeUriPath(uri) + "/" + (args === "" ? "" : "?" + args),
    };
  }
  if (loaded.kind === "error") {
    logOpenError(log, opts, r.path, loaded);
    return status(loaded.status);
  }
  if (method === "POST") {
    release(loaded.src);
    return status(405);
  }
  return sendFile(req, res, uri, loaded.src, opts, null, vary);
}

function serveDirectory(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  path: string,
  jail: string,
  rel: string,
  opts: StaticOptions,
  log: Logger,
  depth: number,
): Step {
  // ngx_http_index_module: the first index that exists wins.
  for (const name of opts.index) {
    if (name === "") continue;
    const target = name.startsWith("/") ? name : uri + name;
    if (name.startsWith("/")) {
      if (opts.indexMode === "internal") return { kind: "internal", uri: target };
      if (depth >= 10) {
        log.error(
          `rewrite or internal redirection cycle while internally redirecting to "${target}"`,
        );
        return status(500);
      }
      return serveAt(req, res, target, opts, log, "", depth + 1);
    }
    const ir = resolveStaticPath(target, opts);
    if (!ir.ok) continue;
    const loaded = loadSource(ir.path, ir.jail, ir.rel, opts);
    if (loaded.kind === "source") {
      if (opts.indexMode === "internal") {
        release(loaded.src);
        return { kind: "internal", uri: target };
      }
      if (req.method === "POST") {
        release(loaded.src);
        return status(405);
      }
      return sendFile(req, res, target, loaded.src, opts, null, false);
    }
    if (loaded.kind === "error" && loaded.status !== 404) {
      logOpenError(log, opts, ir.path, loaded);
      return status(loaded.status);
    }
  }
  const dir = openContained(path, jail, rel, opts.symlinks);
  if (dir.kind === "error") {
    logOpenError(log, opts, path, dir);
    return status(dir.status);
  }
  if (dir.kind === "file") {
    closeQuietly(dir.file.fd);
    return status(404);
  }
  if (opts.autoindex && (req.method === "GET" || req.method === "HEAD")) {
    const entries = listDirectory(path, 100_000);
    if (entries === null) return status(403);
    const html = Buffer.from(renderAutoindex(uri, entries), "utf8");
    const headers: HeaderList = [
      [
        "Content-Type",
        contentTypeFor(".html", opts.types, "text/html", opts.charset, opts.charsetTypes).header,
      ],
      ["Content-Length", String(html.length)],
    ];
    pushExtra(headers, opts, 200, null);
    res.writeHead(200, headers);
    if (req.method === "HEAD") res.end();
    else res.end(html);
    return sent(200);
  }
  // ngx_http_core_content_phase: "directory index of ... is forbidden"
  log.error(`directory index of "${path}" is forbidden`);
  return status(403);
}
