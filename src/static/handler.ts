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
import { Readable, pipeline } from "node:stream";
import { performance } from "node:perf_hooks";
import { createGzip, gzipSync } from "node:zlib";
import type { Logger } from "../core/log.js";
import type { HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import { renderAutoindex, escapeUriPath } from "./autoindex.js";
import type { CachedFile } from "./cache.js";
import { evaluatePreconditions, ifRangeHolds, type Validators } from "./conditional.js";
import { fileEtag, lastModified as lastModifiedOf, weakEtag } from "./etag.js";
import { expiresHeaders } from "./expires.js";
import {
  closeQuietly,
  listDirectory,
  openContained,
  readAll,
  readAt,
  realPathAllowed,
  statPath,
  type OpenResult,
} from "./files.js";
import { acceptsGzip, gzipEligible, gzipVersionOk } from "./gzip.js";
import { contentTypeFor } from "./mime.js";
import type { StaticOptions } from "./options.js";
import {
  contentRange,
  nextBoundary,
  parseRange,
  planMultipart,
  unsatisfiedRange,
  type ByteRange,
  type MultipartPlan,
} from "./range.js";
import { resolveStaticPath } from "./resolve.js";

export type StaticOutcome =
  /** A response was written (200, 206, 304). */
  | { readonly kind: "sent"; readonly status: number }
  /** Nothing written: the pipeline must answer `status` (error_page applies) with `headers`. */
  | {
      readonly kind: "status";
      readonly status: 400 | 403 | 404 | 405 | 412 | 416 | 500;
      readonly headers: HeaderList;
    }
  /** Directory without its slash: answer 301 with this (relative) Location; absolute_redirect is the pipeline's. */
  | { readonly kind: "redirect"; readonly status: 301; readonly location: string }
  /** An index file exists: internal redirect to this URI (indexMode "internal"). */
  | { readonly kind: "internal"; readonly uri: string };

type ErrorStatus = 400 | 403 | 404 | 405 | 412 | 416 | 500;
/** Internal steps answer synchronously when they can (the cached hot path allocates no promise). */
type Step = StaticOutcome | Promise<StaticOutcome>;

const SENT: Readonly<Record<number, StaticOutcome>> = {
  200: { kind: "sent", status: 200 },
  206: { kind: "sent", status: 206 },
  304: { kind: "sent", status: 304 },
};
function sent(st: 200 | 206 | 304): StaticOutcome {
  return SENT[st]!;
}

function status(s: ErrorStatus, headers: HeaderList = []): StaticOutcome {
  return { kind: "status", status: s, headers };
}

/** An opened representation: in memory (cached) or an open descriptor we must close. */
interface Source {
  readonly size: number;
  readonly mtimeSec: number;
  readonly etag: string;
  readonly lastModified: string;
  readonly body: Buffer | null;
  readonly fd: number | null;
  readonly entry: CachedFile | null;
}

type Loaded =
  { readonly kind: "source"; readonly src: Source } | Exclude<OpenResult, { kind: "file" }>;

function memSource(e: CachedFile): Loaded {
  return {
    kind: "source",
    src: {
      size: e.size,
      mtimeSec: Math.floor(e.mtimeMs / 1000),
      etag: e.etag,
      lastModified: e.lastModified,
      body: e.body,
      fd: null,
      entry: e,
    },
  };
}

/** Open a file through the cache: a hit costs one stat, or none when revalidated this turn. */
function loadSource(path: string, jail: string, rel: string, opts: StaticOptions): Loaded {
  const cache = opts.cache;
  if (cache !== null) {
    const e = cache.get(path);
    if (e !== undefined) {
      const now = cache.validMs > 0 ? performance.now() : 0;
      if (cache.fresh(e, now)) {
        if (realPathAllowed(e.realPath, jail, rel, opts.symlinks)) return memSource(e);
      } else {
        const st = statPath(path);
        if (
          st !== null &&
          st.isFile() &&
          st.ino === e.ino &&
          st.dev === e.dev &&
          st.size === e.size &&
          st.mtimeMs === e.mtimeMs &&
          realPathAllowed(e.realPath, jail, rel, opts.symlinks)
        ) {
          cache.checked(e, now);
          return memSource(e);
        }
      }
      cache.delete(path);
    }
  }
  const r = openContained(path, jail, rel, opts.symlinks);
  if (r.kind !== "file") return r;
  const f = r.file;
  const mtimeSec = Math.floor(f.mtimeMs / 1000);
  const etag = fileEtag(mtimeSec, f.size);
  const lm = lastModifiedOf(mtimeSec);
  if (cache !== null && f.size <= cache.maxFileSize) {
    let body: Buffer;
    try {
      body = readAll(f.fd, f.size);
    } finally {
      closeQuietly(f.fd);
    }
    const entry: CachedFile = {
      path,
      dev: f.dev,
      ino: f.ino,
      size: body.length,
      mtimeMs: f.mtimeMs,
      realPath: f.realPath,
      body,
      etag: body.length === f.size ? etag : fileEtag(mtimeSec, body.length),
      lastModified: lm,
      gzipped: null,
      checkedAt: cache.validMs > 0 ? performance.now() : 0,
    };
    // A file that shrank while we read it is served as read but not cached.
    if (body.length === f.size) {
      cache.set(entry);
      cache.checked(entry, entry.checkedAt);
    }
    return memSource(entry);
  }
  return {
    kind: "source",
    src: { size: f.size, mtimeSec, etag, lastModified: lm, body: null, fd: f.fd, entry: null },
  };
}

function release(src: Source): void {
  if (src.fd !== null) closeQuietly(src.fd);
}

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
export async function serveStatic(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  opts: StaticOptions,
  log: Logger,
  args: string = req.query,
): Promise<StaticOutcome> {
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

function pushExtra(
  headers: HeaderList,
  opts: StaticOptions,
  st: number,
  mtimeSec: number | null,
): void {
  if (opts.expires.kind !== "off") {
    for (const h of expiresHeaders(opts.expires, st, Math.floor(Date.now() / 1000), mtimeSec))
      headers.push(h);
  }
  if (opts.addHeaders !== null) for (const h of opts.addHeaders(st)) headers.push(h);
}

/** Send a file representation: conditionals, then ranges, then the body. */
function sendFile(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  src: Source,
  opts: StaticOptions,
  encoding: "gzip" | null,
  varyIn: boolean,
): Step {
  const head = req.method === "HEAD";
  const ct = contentTypeFor(uri, opts.types, opts.defaultType, opts.charset, opts.charsetTypes);
  let vary = varyIn;
  let flyGzip = false;
  if (encoding === null && gzipEligible(opts.gzip, ct.type, src.size)) {
    if (opts.gzip.vary) vary = true;
    flyGzip =
      acceptsGzip(req.header("accept-encoding")) &&
      gzipVersionOk(opts.gzip, req.versionMajor, req.versionMinor);
  }
  // nginx makes the ETag weak when gzip changes the bytes (ngx_http_weak_etag).
  const etag = opts.etag ? (flyGzip ? weakEtag(src.etag) : src.etag) : null;
  const v: Validators = { etag, lastModified: src.mtimeSec };

  const pre = evaluatePreconditions(
    req.method,
    {
      ifMatch: req.header("if-match"),
      ifNoneMatch: req.header("if-none-match"),
      ifModifiedSince: req.header("if-modified-since"),
      ifUnmodifiedSince: req.header("if-unmodified-since"),
    },
    v,
    opts.ifModifiedSince,
  );
  if (pre === "failed") {
    release(src);
    return status(412);
  }
  const validators: HeaderList = [["Last-Modified", src.lastModified]];
  if (etag !== null) validators.push(["ETag", etag]);
  if (pre === "not-modified") {
    release(src);
    // RFC 9110 §15.4.5: the validators, Vary and caching fields a 200 would have carried.
    const headers: HeaderList = validators;
    if (vary) headers.push(["Vary", "Accept-Encoding"]);
    pushExtra(headers, opts, 304, src.mtimeSec);
    res.writeHead(304, headers);
    res.end();
    return sent(304);
  }

  const rangesAllowed = !flyGzip && opts.maxRanges !== 0;
  if (rangesAllowed) {
    const rh = req.header("range");
    if (rh !== null && ifRangeHolds(req.header("if-range"), v)) {
      const d = parseRange(rh, src.size, opts.maxRanges);
      if (d.kind === "unsatisfiable") {
        release(src);
        return status(416, [["Content-Range", unsatisfiedRange(src.size)]]);
      }
      if (d.kind === "partial")
        return sendRanges(req, res, src, opts, ct.header, d.ranges, validators, encoding, vary);
    }
  }

  const headers: HeaderList = [["Content-Type", ct.header]];
  let gz: Buffer | null = null;
  if (flyGzip && src.body !== null) {
    gz = gzipBody(src, opts);
    headers.push(["Content-Length", String(gz.length)]);
  } else if (!flyGzip) {
    headers.push(["Content-Length", String(src.size)]);
  }
  for (const h of validators) headers.push(h);
  if (encoding !== null || flyGzip) headers.push(["Content-Encoding", "gzip"]);
  if (vary) headers.push(["Vary", "Accept-Encoding"]);
  if (rangesAllowed) headers.push(["Accept-Ranges", "bytes"]);
  pushExtra(headers, opts, 200, src.mtimeSec);
  res.writeHead(200, headers);

  if (head) {
    release(src);
    res.end();
  } else if (gz !== null) {
    res.end(gz);
  } else if (src.body !== null) {
    res.end(src.body);
  } else if (flyGzip) {
    return streamGzip(res, src, opts).then(() => sent(200));
  } else {
    return sendFd(res, src, 0, src.size).then(() => {
      res.end();
      return sent(200);
    });
  }
  return sent(200);
}

function gzipBody(src: Source, opts: StaticOptions): Buffer {
  const level = opts.gzip.level;
  const e = src.entry;
  const hit = e?.gzipped?.get(level);
  if (hit !== undefined) return hit;
  const gz = gzipSync(src.body ?? Buffer.alloc(0), { level });
  if (e !== null && opts.cache !== null) opts.cache.addGzip(e, level, gz);
  return gz;
}

async function sendFd(res: ResponseWriter, src: Source, start: number, end: number): Promise<void> {
  try {
    if (end > start) await res.sendFile(src.fd ?? -1, start, end);
  } catch {
    // The client went away mid-file; the writer has already dealt with the socket.
  } finally {
    release(src);
  }
}

/**
 * Compress a file that is not in memory on the way out (chunked). The reader generator
 * owns the descriptor and closes it in its own `finally`, after any read in flight, so a
 * recycled descriptor number is never closed or read by mistake.
 */
async function streamGzip(res: ResponseWriter, src: Source, opts: StaticOptions): Promise<void> {
  const fd = src.fd ?? -1;
  let started = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    started = true;
    try {
      let pos = 0;
      while (pos < src.size) {
        const buf = Buffer.allocUnsafe(Math.min(65536, src.size - pos));
        const n = await readAt(fd, buf, pos);
        if (n === 0) break;
        pos += n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      release(src);
    }
  }
  const z = createGzip({ level: opts.gzip.level });
  pipeline(Readable.from(chunks(), { objectMode: false }), z, () => {
    if (!started) release(src);
  });
  res.onClientGone(() => z.destroy());
  try {
    for await (const chunk of z) {
      if (res.clientGone) break;
      if (!res.write(chunk as Buffer)) await res.drain();
    }
  } catch {
    // read error or client gone: the response cannot be completed
    res.abort();
    return;
  }
  if (res.clientGone) z.destroy();
  else res.end();
}

function sendRanges(
  req: IncomingRequest,
  res: ResponseWriter,
  src: Source,
  opts: StaticOptions,
  type: string,
  ranges: readonly ByteRange[],
  validators: HeaderList,
  encoding: "gzip" | null,
  vary: boolean,
): Step {
  const head = req.method === "HEAD";
  const headers: HeaderList = [];
  const single = ranges.length === 1 ? ranges[0]! : null;
  const plan = single === null ? planMultipart(ranges, src.size, type, nextBoundary()) : null;
  if (single !== null) {
    headers.push(["Content-Type", type]);
    headers.push(["Content-Length", String(single.end - single.start)]);
    headers.push(["Content-Range", contentRange(single, src.size)]);
  } else if (plan !== null) {
    headers.push(["Content-Type", plan.contentType]);
    headers.push(["Content-Length", String(plan.contentLength)]);
  }
  for (const h of validators) headers.push(h);
  if (encoding !== null) headers.push(["Content-Encoding", encoding]);
  if (vary) headers.push(["Vary", "Accept-Encoding"]);
  pushExtra(headers, opts, 206, src.mtimeSec);
  res.writeHead(206, headers);
  if (head) {
    release(src);
    res.end();
    return sent(206);
  }
  if (single !== null) {
    if (src.body !== null) {
      res.end(src.body.subarray(single.start, single.end));
      return sent(206);
    }
    return sendFd(res, src, single.start, single.end).then(() => {
      res.end();
      return sent(206);
    });
  }
  if (plan === null) return sent(206);
  if (src.body !== null) {
    const body = src.body;
    const pieces: Buffer[] = [];
    for (const p of plan.parts)
      pieces.push(Buffer.from(p.head, "latin1"), body.subarray(p.range.start, p.range.end));
    pieces.push(Buffer.from(plan.tail, "latin1"));
    res.end(Buffer.concat(pieces));
    return sent(206);
  }
  return sendParts(res, src, plan);
}

async function sendParts(
  res: ResponseWriter,
  src: Source,
  plan: MultipartPlan,
): Promise<StaticOutcome> {
  try {
    for (const p of plan.parts) {
      if (res.clientGone) return sent(206);
      if (!res.write(Buffer.from(p.head, "latin1"))) await res.drain();
      await res.sendFile(src.fd ?? -1, p.range.start, p.range.end);
    }
    res.end(Buffer.from(plan.tail, "latin1"));
  } catch {
    // client gone
  } finally {
    release(src);
  }
  return sent(206);
}
