/**
 * --preload, Node's side (docs/protocol.md, "Preload"): one zygote per pool generation
 * imports the app once; each worker is forked from it on demand (FORK) and connects back
 * to a UNIX socket in a private directory, where it is matched to its placeholder Worker
 * by the pid in its HELLO (FORKED names the pid first, but the two can arrive in either
 * order). The workers share the zygote's imported code pages copy-on-write.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../core/log.js";
import {
  decodeChildExit,
  decodeForked,
  decodeHello,
  encodeFork,
  FrameDecoder,
  FrameType,
  type ErrorReport,
  type Frame,
} from "../protocol/index.js";
import { Worker, type WorkerEvent, type WorkerSpec } from "./worker.js";

/** The first HELLO a connection carries is at most this far in. */
const MAX_FIRST_BYTES = 1 << 20;

export class ForkPool {
  readonly dir: string;
  readonly path: string;
  private readonly server: Server;
  private readonly zygotes = new Map<number, Worker>();
  /** Placeholders waiting for their zygote to be ready before FORK is sent. */
  private readonly waiting = new Map<Worker, Worker[]>();
  /** Placeholders whose FORK was sent, waiting for FORKED (in order). */
  private readonly sent = new Map<Worker, Worker[]>();
  /** Forked workers by pid (until CHILD_EXIT). */
  private readonly byPid = new Map<number, Worker>();
  /** Connections whose HELLO came before FORKED. */
  private readonly early = new Map<number, { socket: Socket; data: Buffer }>();
  private serial = 0;

  constructor(
    private readonly log: Logger,
    private readonly output: (line: string) => void,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "narwhal-fork-")); // mode 0700
    this.path = join(this.dir, "workers.sock");
    this.server = createServer((sock) => {
      this.accept(sock);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.path, () => {
        this.server.removeListener("error", reject);
        resolve();
      });
    });
  }

  /** Fork placeholder `w` from the zygote of generation `gen` (spawned with `spec` if needed). */
  fork(w: Worker, gen: number, spec: WorkerSpec): void {
    let z = this.zygotes.get(gen);
    if (z === undefined || z.state === "dead" || z.state === "stopping") {
      z = this.spawnZygote(gen, spec);
    }
    w.zygote = z;
    if (z.state === "ready") this.sendFork(z, w);
    else this.waiting.get(z)?.push(w);
  }

  /** SHUTDOWN the zygotes of generations that have no worker left. */
  retire(liveGens: ReadonlySet<number>, current: number): void {
    for (const [gen, z] of this.zygotes) {
      if (gen === current || liveGens.has(gen)) continue;
      this.zygotes.delete(gen);
      z.shutdown();
    }
  }

  close(): void {
    for (const z of this.zygotes.values()) z.shutdown();
    this.zygotes.clear();
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawnZygote(gen: number, spec: WorkerSpec): Worker {
    const app = spec.args[spec.args.length - 1] ?? "";
    const zspec: WorkerSpec = { ...spec, args: [...spec.args.slice(0, -1), "--preload", app] };
    const z: Worker = new Worker(++this.serial, zspec, this.log, this.output, (ev) => {
      this.onZygoteEvent(z, ev);
    });
    z.gen = gen;
    z.onControl = (f) => {
      this.onControl(z, f);
    };
    this.zygotes.set(gen, z);
    this.waiting.set(z, []);
    this.sent.set(z, []);
    this.log.info(`Booting preload zygote with pid: ${z.pid}`);
    return z;
  }

  private sendFork(z: Worker, w: Worker): void {
    this.sent.get(z)?.push(w);
    z.send(encodeFork({ connect: this.path }));
  }

  private onZygoteEvent(z: Worker, ev: WorkerEvent): void {
    if (ev.kind === "ready") {
      this.log.info(`Preload zygote (pid: ${z.pid}) imported the app`);
      for (const w of this.waiting.get(z)?.splice(0) ?? []) this.sendFork(z, w);
      return;
    }
    if (ev.kind === "boot-error" || (ev.kind === "exit" && z.hello === null)) {
      // The app does not import: every worker waiting on this zygote fails to boot.
      const report: ErrorReport = z.bootError ?? {
        reason: "the preload zygote exited before it was ready",
        traceback: z.recentOutput.join("\n"),
      };
      this.abandon(z, report);
      return;
    }
    if (ev.kind === "exit") {
      if (this.zygotes.get(z.gen) === z) this.zygotes.delete(z.gen);
      if (!z.retired)
        this.log.warning(
          `Preload zygote (pid: ${z.pid}) exited; the next worker forks from a new one`,
        );
      this.abandon(z, {
        reason: "the preload zygote died before forking this worker",
        traceback: "",
      });
    }
  }

  /** Placeholders of zygote `z` that never got a process: reported as boot failures. */
  private abandon(z: Worker, report: ErrorReport): void {
    if (this.zygotes.get(z.gen) === z) this.zygotes.delete(z.gen);
    const lost = [
      ...(this.waiting.get(z)?.splice(0) ?? []),
      ...(this.sent.get(z)?.splice(0) ?? []),
    ];
    this.waiting.delete(z);
    this.sent.delete(z);
    for (const w of lost) {
      w.bootError = report;
      w.abandon();
    }
    if (z.state !== "dead") z.kill("SIGTERM");
  }

  private onControl(z: Worker, f: Frame): void {
    if (f.type === FrameType.FORKED) {
      const { pid } = decodeForked(f.payload);
      const w = this.sent.get(z)?.shift();
      if (w === undefined) return;
      w.pid = pid;
      this.byPid.set(pid, w);
      this.log.info(`Booting worker with pid: ${pid} (forked from zygote ${z.pid})`);
      const e = this.early.get(pid);
      if (e !== undefined) {
        this.early.delete(pid);
        w.adopt(pid, e.socket, e.data);
      }
      return;
    }
    const c = decodeChildExit(f.payload);
    const w = this.byPid.get(c.pid);
    this.byPid.delete(c.pid);
    if (w === undefined) return;
    w.exitStatus = { code: c.code, signal: c.signal as NodeJS.Signals | null };
    // Never connected (it failed before its HELLO): its death is known only here.
    if (!w.connected) {
      w.bootError ??= { reason: `forked worker exited before connecting`, traceback: "" };
      w.abandon();
    }
  }

  /** A worker connected: read up to its HELLO to learn its pid, then hand the socket over. */
  private accept(sock: Socket): void {
    let data = Buffer.alloc(0);
    sock.on("error", () => undefined);
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      let frames: Frame[];
      try {
        frames = new FrameDecoder("worker").push(data);
      } catch {
        sock.destroy();
        return;
      }
      const hello = frames[0];
      if (hello === undefined) {
        if (data.length > MAX_FIRST_BYTES) sock.destroy();
        return;
      }
      sock.removeListener("data", onData);
      if (hello.type !== FrameType.HELLO) {
        sock.destroy();
        return;
      }
      const { pid } = decodeHello(hello.payload);
      const w = this.byPid.get(pid);
      if (w !== undefined && !w.connected) w.adopt(pid, sock, data);
      else this.early.set(pid, { socket: sock, data });
    };
    sock.on("data", onData);
  }
}
