/**
 * An in-memory cache of small hot files: CLOCK (second-chance LRU) bounded by total bytes,
 * each entry revalidated by stat() (device, inode, size, mtime) before use. Holds the
 * derived header values too, so a hit costs at most one stat and no allocation beyond the
 * header list.
 *
 * Freshness: a file is revalidated at most once per `validMs` (default 1000 ms), as nginx's
 * `open_file_cache_valid` does: a file changed on disk is served as it was for up to that
 * long, and a hot file costs one stat per second instead of one per request. With
 * `validMs: 0` a stat is good only for the rest of the event-loop turn it was made in:
 * requests handled in one turn were read from their sockets in the same poll phase, i.e.
 * together, so a request sent after a file changed (a client that writes, then asks) is
 * handled in a later turn and sees the change.
 */
import type { HeaderList } from "../http/types.js";

/**
 * What serving a cached file under one set of options always computes the same way: the
 * Content-Type, and the head of a plain 200 (frozen with constantHeaders, so the writer
 * reuses its serialisation). Kept for the last (options, URI) pair that served the file.
 */
export interface HitPlan {
  readonly opts: object;
  readonly uri: string;
  readonly type: string;
  readonly typeHeader: string;
  readonly gzipEligible: boolean;
  /** The fields of a plain 200 (no gzip, Vary, expires or add_header); null: build per request. */
  readonly plain: HeaderList | null;
}

export interface CachedFile {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  /** Real path of the file when it was read, re-checked against the request's jail. */
  readonly realPath: string;
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
  /** gzip-compressed body per compression level, filled on demand. */
  gzipped: Map<number, Buffer> | null;
  /** performance.now() of the last successful revalidation (kept only with validMs > 0). */
  checkedAt: number;
  /** The event-loop turn of the last successful revalidation. */
  checkedTurn?: number;
  /** Used since the eviction hand last passed (CLOCK's reference bit). */
  used?: boolean;
  /** The source object handed out on hits (immutable, so shared). */
  source?: unknown;
  /** See HitPlan. */
  plan?: HitPlan;
}

export interface FileCacheOptions {
  /** Largest file kept (bytes). */
  readonly maxFileSize?: number;
  /** Total bytes of bodies (plain and gzipped) kept. */
  readonly maxBytes?: number;
  /** How long a revalidation stays good, in ms (nginx `open_file_cache_valid`); default 1000, 0: one event-loop turn. */
  readonly validMs?: number;
}

export class FileCache {
  readonly maxFileSize: number;
  readonly maxBytes: number;
  readonly validMs: number;
  private readonly entries = new Map<string, CachedFile>();
  private total = 0;
  private turn = 1;
  private turnPending = false;
  private readonly nextTurn = (): void => {
    this.turn++;
    this.turnPending = false;
  };

  constructor(o: FileCacheOptions = {}) {
    this.maxFileSize = o.maxFileSize ?? 1024 * 1024;
    this.maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    this.validMs = o.validMs ?? 1000;
  }

  /** The current turn; the first call in a turn schedules its end (setImmediate: after the poll phase). */
  private currentTurn(): number {
    if (!this.turnPending) {
      this.turnPending = true;
      setImmediate(this.nextTurn);
    }
    return this.turn;
  }

  /** Whether an entry was revalidated recently enough to skip the stat. */
  fresh(e: CachedFile, now: number): boolean {
    if (e.checkedTurn === this.turn && this.turnPending) return true;
    return this.validMs > 0 && now - e.checkedAt <= this.validMs;
  }

  /** Record a successful revalidation (or the initial read). */
  checked(e: CachedFile, now: number): void {
    e.checkedTurn = this.currentTurn();
    e.checkedAt = now;
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for a path, marked as used (a hit costs one Map lookup, no reordering). */
  get(path: string): CachedFile | undefined {
    const e = this.entries.get(path);
    if (e !== undefined) e.used = true;
    return e;
  }

  set(entry: CachedFile): void {
    if (entry.size > this.maxFileSize) return;
    this.delete(entry.path);
    entry.used = false;
    this.entries.set(entry.path, entry);
    this.total += weight(entry);
    this.evict();
  }

  /** Keep a compressed variant, accounted in the byte budget. */
  addGzip(entry: CachedFile, level: number, gz: Buffer): void {
    if (this.entries.get(entry.path) !== entry) return;
    entry.gzipped ??= new Map();
    if (entry.gzipped.has(level)) return;
    entry.gzipped.set(level, gz);
    this.total += gz.length;
    this.evict();
  }

  delete(path: string): void {
    const old = this.entries.get(path);
    if (old === undefined) return;
    this.entries.delete(path);
    this.total -= weight(old);
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }

  private evict(): void {
    // Map iteration order is insertion order, the clock's hand: a used entry gets a second
    // chance (moved to the end, bit cleared), an unused one goes. Each entry is visited at
    // most twice, so this ends.
    for (const [key, e] of this.entries) {
      if (this.total <= this.maxBytes) break;
      if (e.used === true) {
        e.used = false;
        this.entries.delete(key);
        this.entries.set(key, e);
      } else this.delete(key);
    }
  }
}

function weight(e: CachedFile): number {
  let w = e.body.length;
  if (e.gzipped !== null) for (const b of e.gzipped.values()) w += b.length;
  return w;
}
