/**
 * The only module of src/static that touches the filesystem. Calls are synchronous, as
 * nginx's are without `aio`: on a local disk open/fstat cost microseconds, far less than
 * a thread-pool round trip.
 *
 * Containment: after opening, the real path of the open descriptor (from
 * /proc/self/fd on Linux, realpath elsewhere) is checked against the real path of the
 * jail, so a symlink swapped in between check and open cannot redirect the read.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  read,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from "node:fs";

/**
 * `disable_symlinks`: "follow" (= `off`, nginx's default) follows any symlink;
 * "inside" (narwhal's default) follows symlinks whose target stays inside the jail;
 * "refuse" (= `on`) refuses any symlink below the jail.
 */
export type SymlinkPolicy = "follow" | "inside" | "refuse";

export interface FileInfo {
  readonly fd: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly dev: number;
  readonly ino: number;
  readonly realPath: string;
}

export type OpenResult =
  | { readonly kind: "file"; readonly file: FileInfo }
  | { readonly kind: "dir"; readonly realPath: string }
  | { readonly kind: "error"; readonly status: 403 | 404 | 500; readonly message: string };

const PROC_FD = process.platform === "linux" && existsSync("/proc/self/fd");
const jails = new Map<string, string>();

/** The real path of a jail directory, cached; `refresh` re-resolves it. */
export function realJail(jail: string, refresh = false): string | null {
  if (!refresh) {
    const hit = jails.get(jail);
    if (hit !== undefined) return hit;
  }
  try {
    const real = realpathSync.native(jail);
    if (jails.size > 1024) jails.clear();
    jails.set(jail, real);
    return real;
  } catch {
    return null;
  }
}

function fdRealPath(fd: number, path: string): string {
  if (PROC_FD) {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // fall through
    }
  }
  return realpathSync.native(path);
}

function within(real: string, jail: string): boolean {
  return real === jail || real.startsWith(jail === "/" ? "/" : jail + "/");
}

/**
 * Whether a real path is acceptable under the policy: inside the real jail ("inside"),
 * or exactly the jail plus the lexical relative path, i.e. no symlink on the way ("refuse").
 */
export function realPathAllowed(
  realPath: string,
  jail: string,
  rel: string,
  policy: SymlinkPolicy,
): boolean {
  if (policy === "follow") return true;
  // The memoised real path of the jail first; on a mismatch once more with a fresh one.
  return (
    realPathIn(realPath, realJail(jail, false), rel, policy) ||
    realPathIn(realPath, realJail(jail, true), rel, policy)
  );
}

function realPathIn(
  realPath: string,
  rj: string | null,
  rel: string,
  policy: SymlinkPolicy,
): boolean {
  if (rj === null) return false;
  return policy === "inside"
    ? within(realPath, rj)
    : realPath === (rel === "" ? rj : (rj === "/" ? "" : rj) + "/" + rel);
}

function errnoStatus(err: unknown): { status: 403 | 404 | 500; message: string } {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const message = (err as Error).message;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "ENAMETOOLONG":
      return { status: 404, message };
    case "EACCES":
    case "EPERM":
    case "ELOOP":
      return { status: 403, message };
    default:
      return { status: 500, message };
  }
}

/**
 * Open `path` read-only and classify it. O_NONBLOCK keeps a FIFO from blocking the
 * process (nginx does the same); anything but a regular file or directory is a 404.
 */
export function openContained(
  path: string,
  jail: string,
  rel: string,
  policy: SymlinkPolicy,
): OpenResult {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { kind: "error", ...errnoStatus(err) };
  }
  try {
    const st = fstatSync(fd);
    const realPath = policy === "follow" ? path : fdRealPath(fd, path);
    if (!realPathAllowed(realPath, jail, rel, policy)) {
      closeSync(fd);
      return {
        kind: "error",
        status: 403,
        message: `"${path}" resolves outside its root (symlink)`,
      };
    }
    if (st.isDirectory()) {
      closeSync(fd);
      return { kind: "dir", realPath };
    }
    if (!st.isFile()) {
      closeSync(fd);
      return { kind: "error", status: 404, message: `"${path}" is not a regular file` };
    }
    return {
      kind: "file",
      file: { fd, size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino, realPath },
    };
  } catch (err) {
    closeSync(fd);
    return { kind: "error", ...errnoStatus(err) };
  }
}

/** stat() following symlinks, for revalidating a cache entry; null when gone. */
export function statPath(path: string): Stats | null {
  try {
    return statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** Read a whole (small) open file. */
export function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}

/** Read into `buf` at file position `pos` (thread pool), resolving the byte count. */
export function readAt(fd: number, buf: Buffer, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, buf.length, pos, (err, bytes) => {
      if (err) reject(err);
      else resolve(bytes);
    });
  });
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

export interface DirEntry {
  readonly name: string;
  readonly dir: boolean;
  readonly size: number;
  readonly mtimeMs: number;
}

/** List a directory for autoindex; entries that vanish or cannot be stat'ed are skipped. */
export function listDirectory(path: string, limit: number): DirEntry[] | null {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return null;
  }
  const out: DirEntry[] = [];
  const base = path.endsWith("/") ? path : path + "/";
  for (const name of names.slice(0, limit)) {
    const st = statPath(base + name);
    if (st === null) continue;
    out.push({ name, dir: st.isDirectory(), size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}
