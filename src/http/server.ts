/**
 * The HTTP/1.1 server: listeners (TCP or unix sockets) feeding Connection state machines.
 *
 * @example
 *   const server = new HttpServer({ handler, logger, settings });
 *   await server.listen(["127.0.0.1:0"]);
 *   server.address()[0].port;
 *   await server.drain(30_000);   // graceful stop
 */
import { createServer, type Server, type Socket } from "node:net";
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { ConfigError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Settings } from "../config/resolved.js";
import type { Handler } from "./types.js";
import { DEFAULT_LIMITS, limitsFromSettings, type HttpLimits } from "./limits.js";
import { parseBind, type BindAddress } from "./bind.js";
import { Connection, type ConnectionOwner, type MutableConnectionInfo } from "./connection.js";
import { errorResponse } from "./error-page.js";

export interface HttpServerOptions {
  handler: Handler;
  logger: Logger;
  /** Limits for listeners that do not bring their own; default: from `settings`, else DEFAULT_LIMITS. */
  limits?: HttpLimits;
  /** Source of limits, backlog and worker_connections when those are not given. */
  settings?: Settings;
  /** worker_connections: open connections at most; beyond it new ones get 503 and are closed. */
  maxConnections?: number;
  backlog?: number;
}

/** Per-listener overrides (an nginx `server` block listening there). */
export interface ListenerOptions {
  handler?: Handler;
  limits?: HttpLimits;
}

export interface ListenerAddress {
  readonly bind: string;
  /** "unix" listeners have `path`, TCP ones `address`/`port`. */
  readonly family: "IPv4" | "IPv6" | "unix";
  readonly address: string;
  readonly port: number;
  readonly path: string | null;
}

export class Listener {
  constructor(
    readonly bind: string,
    readonly addr: BindAddress,
    readonly server: Server,
    readonly handler: Handler,
    readonly limits: HttpLimits,
  ) {}

  address(): ListenerAddress {
    if (this.addr.kind === "unix")
      return { bind: this.bind, family: "unix", address: "", port: 0, path: this.addr.path };
    const a = this.server.address();
    if (a === null || typeof a === "string") throw new Error("listener not bound");
    return {
      bind: this.bind,
      family: a.family === "IPv6" ? "IPv6" : "IPv4",
      address: a.address,
      port: a.port,
      path: null,
    };
  }
}

let connectionSerial = 0;

export class HttpServer implements ConnectionOwner {
  draining = false;
  private readonly listeners: Listener[] = [];
  private readonly conns = new Set<Connection>();
  private rejected = 0;
  private readonly handler: Handler;
  private readonly logger: Logger;
  private readonly limits: HttpLimits;
  private readonly maxConnections: number;
  private readonly backlog: number;
  private drained: (() => void) | null = null;

  constructor(opts: HttpServerOptions) {
    this.handler = opts.handler;
    this.logger = opts.logger;
    const s = opts.settings;
    this.limits = opts.limits ?? (s ? limitsFromSettings(s) : DEFAULT_LIMITS);
    this.maxConnections = opts.maxConnections ?? (s ? s.num("worker_connections") : 1000);
    this.backlog = opts.backlog ?? (s ? s.num("backlog") : 2048);
  }

  /** Open connections (including ones closing). */
  get connections(): number {
    return this.conns.size;
  }

  async listen(binds: readonly string[]): Promise<void> {
    for (const b of binds) await this.addListener(b);
  }

  async addListener(bind: string, opts: ListenerOptions = {}): Promise<Listener> {
    const addr = parseBind(bind);
    const handler = opts.handler ?? this.handler;
    const limits = opts.limits ?? this.limits;
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
      this.accept(sock, listener);
    });
    const listener = new Listener(bind, addr, server, handler, limits);
    if (addr.kind === "unix") removeStaleSocket(addr.path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => {
        reject(new ConfigError(`cannot listen on ${bind}: ${e.code ?? e.message}`));
      });
      const done = (): void => {
        server.removeAllListeners("error");
        server.on("error", (e) => {
          this.logger.error(`listener ${bind}: ${e.message}`);
        });
        resolve();
      };
      if (addr.kind === "unix") server.listen({ path: addr.path, backlog: this.backlog }, done);
      else
        server.listen(
          {
            host: addr.host,
            port: addr.port,
            backlog: this.backlog,
            ipv6Only: addr.host === "::" ? false : undefined,
          },
          done,
        );
    });
    this.listeners.push(listener);
    this.logger.info(`Listening at: ${describe(listener)}`);
    return listener;
  }

  /** Stop accepting on one listener (open connections continue). */
  removeListener(listener: Listener): Promise<void> {
    const i = this.listeners.indexOf(listener);
    if (i < 0) return Promise.resolve();
    this.listeners.splice(i, 1);
    // close() stops accepting at once; its callback would wait for every open connection.
    listener.server.close();
    if (listener.addr.kind === "unix") removeStaleSocket(listener.addr.path);
    return Promise.resolve();
  }

  address(): ListenerAddress[] {
    return this.listeners.map((l) => l.address());
  }

  /** Stop accepting new connections everywhere. */
  async close(): Promise<void> {
    await Promise.all([...this.listeners].map((l) => this.removeListener(l)));
  }

  /**
   * Graceful stop: stop accepting, close idle keep-alive connections now, let in-flight
   * requests finish (their responses carry Connection: close), and after `graceMs`
   * destroy whatever is left. Resolves when every connection is gone.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    await this.close();
    for (const c of this.conns) c.closeIfIdle();
    if (this.conns.size === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const c of this.conns) c.destroy();
      }, graceMs);
      this.drained = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  connectionClosed(conn: Connection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.drained !== null) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }

  private accept(sock: Socket, listener: Listener): void {
    if (this.draining) {
      sock.destroy();
      return;
    }
    if (this.conns.size >= this.maxConnections) {
      this.refuse(sock, listener.limits);
      return;
    }
    const unix = listener.addr.kind === "unix";
    const info: MutableConnectionInfo = {
      id: ++connectionSerial,
      remoteAddress: unix ? "" : (sock.remoteAddress ?? ""),
      remotePort: unix ? 0 : (sock.remotePort ?? 0),
      localAddress: unix ? (listener.addr as { path: string }).path : (sock.localAddress ?? ""),
      localPort: unix ? 0 : (sock.localPort ?? 0),
      family: unix ? "unix" : sock.remoteFamily === "IPv6" ? "IPv6" : "IPv4",
      tls: false,
      requests: 0,
      peerAddress: unix ? "" : (sock.remoteAddress ?? ""),
      peerPort: unix ? 0 : (sock.remotePort ?? 0),
    };
    const conn = new Connection(sock, listener.handler, listener.limits, this.logger, this, info);
    this.conns.add(conn);
  }

  /** worker_connections reached: a short 503, then close (reading nothing, for at most a second). */
  private refuse(sock: Socket, limits: HttpLimits): void {
    this.rejected++;
    this.logger.info(
      `client ${sock.remoteAddress ?? "unix"}:${sock.remotePort ?? 0}: worker_connections (${this.maxConnections}) reached (503)`,
    );
    sock.on("error", () => undefined);
    sock.on("data", () => undefined);
    sock.on("end", () => sock.destroy());
    sock.end(errorResponse(503, limits.serverHeader), "latin1");
    setTimeout(() => sock.destroy(), 1000).unref();
  }

  /** Connections refused because worker_connections was reached. */
  get refusedConnections(): number {
    return this.rejected;
  }
}

function describe(l: Listener): string {
  const a = l.address();
  if (a.family === "unix") return `unix:${a.path ?? ""}`;
  return a.family === "IPv6" ? `http://[${a.address}]:${a.port}` : `http://${a.address}:${a.port}`;
}

/** Gunicorn removes a socket file left by a previous run; never anything that is not a socket. */
function removeStaleSocket(path: string): void {
  try {
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Binding will report the real problem.
  }
}
