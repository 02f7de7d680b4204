/**
 * `proxy_buffering on`: the upstream reply is read as fast as the upstream sends it,
 * whatever the client's pace, so the upstream connection (and the Python worker behind
 * it) is freed at once; a slow client then drains the spool. Up to `memory` bytes stay in
 * RAM, the rest goes to an unlinked temp file (nginx's proxy_temp_path); past
 * `maxFile` bytes unread on disk the upstream is paused, as nginx does when
 * proxy_max_temp_file_size is reached.
 */
import { open, unlink, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BodySink, UpstreamFailure } from "./failure.js";

let serial = 0;
const READ_CHUNK = 64 * 1024;

export interface SpoolOptions {
  readonly memory: number;
  readonly maxFile: number;
  readonly tempPath: string | null;
}

export class ResponseSpool implements BodySink {
  private readonly mem: Buffer[] = [];
  private memBytes = 0;
  private spilling = false;
  private file: FileHandle | null = null;
  private opening: Promise<FileHandle> | null = null;
  private writeChain: Promise<void> = Promise.resolve();
  private submitted = 0;
  private written = 0;
  private readPos = 0;
  private ended = false;
  private failure: UpstreamFailure | Error | null = null;
  private paused = false;
  private wake: (() => void) | null = null;
  private disposed = false;
  /** Bytes received from the upstream. */
  received = 0;
  /** Set once the upstream body is complete. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly opts: SpoolOptions,
    private readonly resumeUpstream: () => void,
  ) {
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  /** Bytes spilled to the temp file so far. */
  get spilled(): number {
    return this.submitted;
  }

  data(chunk: Buffer): boolean {
    this.received += chunk.length;
    if (!this.spilling) {
      this.mem.push(chunk);
      this.memBytes += chunk.length;
      if (this.memBytes >= this.opts.memory) {
        if (this.opts.maxFile > 0) this.spilling = true;
        else return this.pause();
      }
      this.notify();
      return true;
    }
    const pos = this.submitted;
    this.submitted += chunk.length;
    this.writeChain = this.writeChain
      .then(async () => {
        const fh = await this.ensureFile();
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, pos + off);
          off += bytesWritten;
        }
        this.written = pos + chunk.length;
        this.notify();
      })
      .catch((err: unknown) => {
        this.error(err as Error);
      });
    if (this.submitted - this.readPos >= this.opts.maxFile) return this.pause();
    return true;
  }

  end(): void {
    this.ended = true;
    void this.writeChain.then(() => {
      this.resolveDone();
      this.notify();
    });
  }

  error(err: UpstreamFailure | Error): void {
    if (this.failure === null) this.failure = err;
    this.resolveDone();
    this.notify();
  }

  private pause(): false {
    this.paused = true;
    return false;
  }

  private maybeResume(): void {
    if (!this.paused) return;
    const memOk = this.spilling || this.memBytes < this.opts.memory;
    const fileOk = this.submitted - this.readPos < this.opts.maxFile || this.opts.maxFile === 0;
    if (memOk && fileOk) {
      this.paused = false;
      this.resumeUpstream();
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    if (w !== null) w();
  }

  private ensureFile(): Promise<FileHandle> {
    if (this.file !== null) return Promise.resolve(this.file);
    if (this.opening === null) {
      const path = join(this.opts.tempPath ?? tmpdir(), `narwhal-proxy-${process.pid}-${++serial}`);
      this.opening = open(path, "w+", 0o600).then(async (fh) => {
        // Unlinked at once: the data disappears with the handle, even on a crash.
        await unlink(path).catch(() => {});
        this.file = fh;
        if (this.disposed) void fh.close().catch(() => {});
        return fh;
      });
    }
    return this.opening;
  }

  /** The body in order; throws the upstream failure if the reply broke off. */
  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.mem.length > 0) {
        const c = this.mem.shift()!;
        this.memBytes -= c.length;
        this.maybeResume();
        yield c;
        continue;
      }
      if (this.readPos < this.written && this.file !== null) {
        const n = Math.min(READ_CHUNK, this.written - this.readPos);
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await this.file.read(buf, 0, n, this.readPos);
        if (bytesRead <= 0) throw new Error("temp file truncated");
        this.readPos += bytesRead;
        this.maybeResume();
        yield buf.subarray(0, bytesRead);
        continue;
      }
      if (this.failure !== null) throw this.failure;
      if (this.ended && this.readPos >= this.submitted) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  /** Release the temp file. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.mem.length = 0;
    await this.writeChain.catch(() => {});
    const fh = this.file;
    this.file = null;
    if (fh !== null) await fh.close().catch(() => {});
  }
}
