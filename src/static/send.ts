/**
 * Sending a file representation, nginx's filter order: not_modified (preconditions),
 * gzip (on the fly, which disables ranges), range (single part or multipart/byteranges),
 * headers (expires, add_header), then the body from memory or from the descriptor.
 */
import { Readable, pipeline } from "node:stream";
import { createGzip, gzipSync } from "node:zlib";
import type { HeaderList, IncomingRequest, ResponseWriter } from "../http/types.js";
import { constantHeaders } from "../http/header-block.js";
import type { CachedFile, HitPlan } from "./cache.js";
import { evaluatePreconditions, ifRangeHolds, type Validators } from "./conditional.js";
import { weakEtag } from "./etag.js";
import { expiresHeaders } from "./expires.js";
import { readAt } from "./files.js";
import { acceptsGzip, gzipEligible, gzipVersionOk } from "./gzip.js";
import { contentTypeFor } from "./mime.js";
import type { StaticOptions } from "./options.js";
import { sent, status, type Step, type StaticOutcome } from "./outcome.js";
import {
  contentRange,
  nextBoundary,
  parseRange,
  planMultipart,
  unsatisfiedRange,
  type ByteRange,
  type MultipartPlan,
} from "./range.js";
import { release, type Source } from "./source.js";

export function pushExtra(
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
export function sendFile(
  req: IncomingRequest,
  res: ResponseWriter,
  uri: string,
  src: Source,
  opts: StaticOptions,
  encoding: "gzip" | null,
  varyIn: boolean,
): Step {
  const head = req.method === "HEAD";
  const plan = src.entry !== null ? hitPlan(src.entry, uri, opts) : null;
  const ct =
    plan !== null
      ? { type: plan.type, header: plan.typeHeader }
      : contentTypeFor(uri, opts.types, opts.defaultType, opts.charset, opts.charsetTypes);
  let vary = varyIn;
  let flyGzip = false;
  if (
    encoding === null &&
    (plan !== null ? plan.gzipEligible : gzipEligible(opts.gzip, ct.type, src.size))
  ) {
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

  if (plan?.plain != null && !flyGzip && encoding === null && !vary) {
    // A cached file's plain 200: the head was built (and serialised) once.
    res.writeHead(200, plan.plain);
    if (head) res.end();
    else res.end(src.body!);
    return sent(200);
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

/** The entry's HitPlan for these options and URI, made (again) when they changed. */
function hitPlan(e: CachedFile, uri: string, opts: StaticOptions): HitPlan {
  const p = e.plan;
  if (p !== undefined && p.opts === opts && p.uri === uri) return p;
  const ct = contentTypeFor(uri, opts.types, opts.defaultType, opts.charset, opts.charsetTypes);
  const eligible = gzipEligible(opts.gzip, ct.type, e.size);
  let plain: HeaderList | null = null;
  // Only when nothing per request (expires' clock, add_header) goes into the head.
  if (!eligible && opts.expires.kind === "off" && opts.addHeaders === null) {
    plain = [
      ["Content-Type", ct.header],
      ["Content-Length", String(e.size)],
      ["Last-Modified", e.lastModified],
    ];
    if (opts.etag) plain.push(["ETag", e.etag]);
    if (opts.maxRanges !== 0) plain.push(["Accept-Ranges", "bytes"]);
    constantHeaders(plain);
  }
  return (e.plan = {
    opts,
    uri,
    type: ct.type,
    typeHeader: ct.header,
    gzipEligible: eligible,
    plain,
  });
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

/**
 * Bytes per read when streaming a file. On 10 MiB files: 64 KiB ≈ 20 ms CPU per response,
 * 256 KiB ≈ 12 ms, 512 KiB ≈ 8.5 ms (1 MiB no better). The price is memory: up to two
 * chunks (the one draining, the one read ahead) per connection sending a large file.
 */
const CHUNK = 512 * 1024;

/**
 * Read buffers (CHUNK bytes each) kept between responses. A fresh 512 KiB buffer per read
 * is external memory that V8 reclaims only by full collections: on 10 MiB files that was
 * a fifth of the CPU in GC. Bounded: at most POOL_MAX buffers are kept.
 */
const POOL: Buffer[] = [];
const POOL_MAX = 8;

function takeBuffer(): Buffer {
  return POOL.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function giveBuffer(b: Buffer): void {
  if (POOL.length < POOL_MAX) POOL.push(b);
}

/**
 * Stream bytes [start, end) of the descriptor with one read ahead: the next chunk is read
 * from disk while the current one drains to the socket. Used instead of res.sendFile()
 * (serial 64 KiB read → write → drain): on 10 MiB files it measured 1.5-2x the
 * throughput for 40% less CPU per request. A buffer goes back to the pool only once the
 * socket has drained, i.e. once the kernel has taken every byte of it.
 */
export async function pumpFd(
  res: ResponseWriter,
  fd: number,
  start: number,
  end: number,
): Promise<void> {
  const next = (pos: number): Promise<{ buf: Buffer; chunk: Buffer }> | null => {
    if (pos >= end) return null;
    const buf = takeBuffer();
    const into = end - pos < CHUNK ? buf.subarray(0, end - pos) : buf;
    return readAt(fd, into, pos).then((n) => {
      if (n === 0) throw new Error("file ended before the requested range");
      return { buf, chunk: n === into.length ? into : into.subarray(0, n) };
    });
  };
  let pos = start;
  let pending = next(pos);
  while (pending !== null && !res.clientGone) {
    const { buf, chunk } = await pending;
    pos += chunk.length;
    pending = next(pos);
    if (!res.write(chunk)) {
      await res.drain();
      if (!res.clientGone) giveBuffer(buf);
    }
    // write() true: the bytes may still be queued in the socket; the buffer is left to GC.
  }
  // Never leave a read in flight on a descriptor about to be closed.
  if (pending !== null) {
    const last = await pending.catch(() => null);
    if (last !== null) giveBuffer(last.buf);
  }
}

async function sendFd(res: ResponseWriter, src: Source, start: number, end: number): Promise<void> {
  try {
    if (end > start) {
      await pumpFd(res, src.fd ?? -1, start, end);
    }
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
      await pumpFd(res, src.fd ?? -1, p.range.start, p.range.end);
    }
    res.end(Buffer.from(plan.tail, "latin1"));
  } catch {
    // client gone
  } finally {
    release(src);
  }
  return sent(206);
}
