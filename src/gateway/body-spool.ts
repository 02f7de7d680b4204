/**
 * Reads a request body completely before a worker is involved, so a slow uploader
 * never holds a Python thread (what nginx's request buffering does for Gunicorn).
 * Bodies up to `memoryLimit` bytes stay in memory; beyond it, everything is spilled to a
 * temporary file (mode 0600) that the caller deletes with `dispose()` afterwards.
 */
import { randomBytes } from "node:crypto";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { RequestBody } from "../http/types.js";

export type SpooledBody =
  | { readonly kind: "memory"; readonly chunks: readonly Buffer[]; readonly length: number }
  | { readonly kind: "file"; readonly path: string; readonly length: number };

export interface SpoolOptions {
  /** Largest body kept in memory (client_body_buffer_size). */
  readonly memoryLimit: number;
  /** Directory for spilled bodies; default os.tmpdir(). */
  readonly tempDir?: string | null;
  /** Workers run as another user (--user/--group): spilled files are given to it. */
  readonly owner?: { readonly uid: number; readonly gid: number } | null;
}

function tempPath(dir: string): string {
  // Absolute: the worker opens it by name from its own working directory (--chdir).
  return join(resolve(dir), `narwhal-body-${process.pid}-${randomBytes(8).toString("hex")}`);
}

/**
 * Drains `body` into memory or a temp file. Errors from the body iterator (413, 408,
 * framing) propagate after any temp file is removed.
 */
export async function spoolBody(body: RequestBody, opts: SpoolOptions): Promise<SpooledBody> {
  if (body.empty) return { kind: "memory", chunks: [], length: 0 };
  const chunks: Buffer[] = [];
  let length = 0;
  let file: FileHandle | null = null;
  let path: string | null = null;
  try {
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      length += chunk.length;
      if (file === null && length > opts.memoryLimit) {
        path = tempPath(opts.tempDir ?? tmpdir());
        // wx: never follow or reuse an existing path; 0600: bodies may hold secrets.
        file = await open(path, "wx", 0o600);
        // Still 0600, but owned by the worker's user so that it can read it.
        if (opts.owner) await file.chown(opts.owner.uid, opts.owner.gid);
        for (const c of chunks) await file.write(c);
        chunks.length = 0;
      }
      if (file !== null) await file.write(chunk);
      else chunks.push(chunk);
    }
    if (file !== null && path !== null) {
      await file.close();
      file = null;
      return { kind: "file", path, length };
    }
    return { kind: "memory", chunks, length };
  } catch (err) {
    if (file !== null) await file.close().catch(() => undefined);
    if (path !== null) await unlink(path).catch(() => undefined);
    throw err;
  }
}

/** Removes a spilled body's temp file (no-op for memory bodies); never throws. */
export async function disposeBody(body: SpooledBody): Promise<void> {
  if (body.kind === "file") await unlink(body.path).catch(() => undefined);
}
