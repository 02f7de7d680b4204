/**
 * Opening a representation: through the small-file cache (one stat per event-loop turn on a
 * hit) or from disk with the containment checks of files.ts.
 */
import { performance } from "node:perf_hooks";
import type { CachedFile } from "./cache.js";
import { fileEtag, lastModified as lastModifiedOf } from "./etag.js";
import {
  closeQuietly,
  openContained,
  readAll,
  realPathAllowed,
  statPath,
  type OpenResult,
} from "./files.js";
import type { StaticOptions } from "./options.js";

/** An opened representation: in memory (cached) or an open descriptor we must close. */
export interface Source {
  readonly size: number;
  readonly mtimeSec: number;
  readonly etag: string;
  readonly lastModified: string;
  readonly body: Buffer | null;
  readonly fd: number | null;
  readonly entry: CachedFile | null;
}

export type Loaded =
  { readonly kind: "source"; readonly src: Source } | Exclude<OpenResult, { kind: "file" }>;

/** The entry as a Source; made once per entry (everything in it is immutable). */
function memSource(e: CachedFile): Loaded {
  return (e.source ??= {
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
  } satisfies Loaded) as Loaded;
}

/** Open a file through the cache: a hit costs one stat, or none when revalidated this turn. */
export function loadSource(path: string, jail: string, rel: string, opts: StaticOptions): Loaded {
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

export function release(src: Source): void {
  if (src.fd !== null) closeQuietly(src.fd);
}
