/**
 * One client connection: a state machine over the request parser with ONE timer whose
 * meaning follows the phase (undici's client-h1 / nginx's event timers):
 *
 *   Fresh   accepted, nothing received yet         header_timeout  → close silently
 *   Idle    keep-alive, between requests           keepalive       → close silently
 *   Head    part of a request head received        header_timeout  → 408, close
 *   Body    the handler waits for body octets      body_timeout    → 408, close   (restarts on each read)
 *   Send    the client does not take our bytes     send_timeout    → close        (restarts on each drain)
 *   Linger  closing: reading and dropping input    lingering time  → close
 *   None    the handler is working                 (the gateway has its own timeouts)
 *
 * One exchange at a time: the next pipelined request is parsed only after the current
 * response ended, its body was consumed, and the socket drained, so responses leave in
 * order and a client that does not read its responses is not read either.
 */
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { HttpError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { ConnectionInfo, Handler, UpgradedConnection } from "./types.js";
import type { HttpLimits } from "./limits.js";
import { RequestParser, type ParsedHead } from "./parser.js";
import { Response, type ResponseHost } from "./response-writer.js";
import { Body, Request, type BodyHost } from "./request.js";
import { errorResponse } from "./error-page.js";

const enum Phase {
  None,
  Fresh,
  Idle,
  Head,
  Body,
  Send,
  Linger,
}

/** Stop reading when this much is buffered and nobody consumes it. */
const READ_HWM = 64 * 1024;
const BODY_HWM = 64 * 1024;

export interface ConnectionOwner {
  readonly draining: boolean;
  connectionClosed(conn: Connection): void;
}

interface Exchange {
  readonly head: ParsedHead;
  readonly req: Request;
  readonly res: Response;
  readonly body: Body;
  bodyDone: boolean;
  responseDone: boolean;
  discarding: boolean;
  continueSent: boolean;
}

export type MutableConnectionInfo = {
  -readonly [K in keyof ConnectionInfo]: ConnectionInfo[K];
};

export class Connection implements ResponseHost, BodyHost {
  readonly info: MutableConnectionInfo;
  readonly serverHeader: string;
  private parser: RequestParser;
  private ex: Exchange | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerPhase = Phase.None;
  /** performance.now() when the pending timer fires; 0 when none is pending. */
  private timerAt = 0;
  /** performance.now() at which the current phase times out. */
  private deadline = 0;
  private restartTimer = false;
  private pumping = false;
  private repump = false;
  private awaitingData = false;
  private paused = false;
  private closing = false;
  private destroyed = false;
  private clientEnded = false;
  private upgraded = false;
  private firstByteAt: bigint | null = null;

  constructor(
    readonly socket: Socket,
    private readonly handler: Handler,
    private readonly limits: HttpLimits,
    private readonly logger: Logger,
    private readonly owner: ConnectionOwner,
    info: MutableConnectionInfo,
  ) {
    this.info = info;
    this.serverHeader = limits.serverHeader;
    // "" means a unix-socket peer (trusted like Gunicorn does); a TCP socket whose address
    // is already unknown (closed at once) must not look like one.
    this.parser = new RequestParser(limits, {
      address: info.family === "unix" ? "" : info.peerAddress === "" ? "0.0.0.0" : info.peerAddress,
    });
    // Nothing a client sends may take the process down: a bug surfacing in an event handler
    // costs this connection only.
    socket.on("data", this.dataListener);
    socket.on("end", this.endListener);
    socket.on("drain", this.drainListener);
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.onSocketError(e);
    });
    socket.on("close", () => {
      this.onClose();
    });
    this.rearm();
  }

  private readonly dataListener = (d: Buffer): void => {
    // guard() inlined: no closure per read on the hot path.
    try {
      this.onData(d);
    } catch (e) {
      this.internalError(e);
    }
  };
  private readonly endListener = (): void => {
    this.guard(() => {
      this.onEnd();
    });
  };
  private readonly drainListener = (): void => {
    this.guard(() => {
      this.onDrain();
    });
  };

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.internalError(e);
    }
  }

  private internalError(e: unknown): void {
    this.logger.error(
      `client ${this.peer}: internal error, closing: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    this.destroy();
  }

  private get peer(): string {
    return this.info.family === "unix"
      ? `unix:${this.info.localAddress}`
      : `${this.info.remoteAddress}:${this.info.remotePort}`;
  }

  /** True when no request is in progress (drain can close it now). */
  get idle(): boolean {
    return this.ex === null && this.parser.betweenMessages && !this.closing;
  }

  // ---- socket events

  private onData(d: Buffer): void {
    if (this.closing || this.destroyed) return; // lingering: read and drop
    if (this.ex === null && this.firstByteAt === null) this.firstByteAt = process.hrtime.bigint();
    this.parser.push(d);
    if (this.ex !== null) this.restartTimer = true; // body progress
    this.pump();
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (this.closing) {
      if (this.socket.writableFinished) this.destroy();
      return;
    }
    this.parser.finish();
    this.pump();
  }

  private onDrain(): void {
    this.restartTimer = true;
    if (this.ex === null) this.pump();
    else this.rearm();
  }

  private onSocketError(e: NodeJS.ErrnoException): void {
    // Resets and broken pipes are the client's business; log them quietly.
    this.logger.debug(`client ${this.peer}: ${e.code ?? e.message}`);
  }

  private onClose(): void {
    this.destroyed = true;
    this.clearTimer();
    const ex = this.ex;
    if (ex !== null) {
      if (!ex.res.finished) ex.res.markGone();
      if (!ex.bodyDone)
        ex.body.fail(new HttpError("NO_MORE_DATA", null, "client closed the connection"));
      this.ex = null;
    }
    this.owner.connectionClosed(this);
  }

  // ---- the loop

  private pump(): void {
    if (this.upgraded) return;
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.repump = false;
        this.pumpOnce();
      } while (this.repump && !this.closing && !this.destroyed);
    } finally {
      this.pumping = false;
    }
    this.updateFlow();
    this.rearm();
  }

  private pumpOnce(): void {
    while (!this.closing && !this.destroyed) {
      const ex = this.ex;
      if (ex !== null) {
        if (ex.bodyDone) return; // waiting for the response
        if (!ex.discarding && !(ex.body.started && ex.body.queuedBytes < BODY_HWM)) return;
        let ev;
        try {
          ev = this.parser.next();
        } catch (e) {
          this.bodyError(ex, e);
          return;
        }
        if (ev === null) {
          this.awaitingData = true;
          return;
        }
        this.awaitingData = false;
        if (ev.kind === "data") {
          if (!ex.discarding) ex.body.push(ev.chunk);
        } else if (ev.kind === "end") {
          ex.bodyDone = true;
          ex.body.finish(ev.trailers);
          if (ex.responseDone) this.finishExchange(ex);
        }
        continue;
      }
      // Between requests. A client that does not drain our responses is not read.
      if (this.socket.writableNeedDrain) return;
      let ev;
      try {
        ev = this.parser.next();
      } catch (e) {
        this.headError(e);
        return;
      }
      if (ev === null) {
        if (this.clientEnded) this.close("client closed the connection");
        return;
      }
      if (ev.kind === "proxy") {
        const i = ev.info;
        if (i.srcAddress !== null && i.srcPort !== null) {
          this.info.remoteAddress = i.srcAddress;
          this.info.remotePort = i.srcPort;
        }
        continue;
      }
      if (ev.kind === "head") this.startExchange(ev.head);
    }
  }

  private startExchange(head: ParsedHead): void {
    this.info.requests++;
    const emptyBody = !head.chunked && !(head.contentLength !== null && head.contentLength > 0);
    const body = new Body(this, emptyBody);
    const startedAt = this.firstByteAt ?? process.hrtime.bigint();
    this.firstByteAt = null;
    const req = new Request(head, this.info, startedAt, body);
    const res = new Response(this, head.method === "HEAD", head.versionMinor === 0);
    const ex: Exchange = {
      head,
      req,
      res,
      body,
      bodyDone: false,
      responseDone: false,
      discarding: false,
      continueSent: false,
    };
    this.ex = ex;
    if (emptyBody) {
      this.parser.next(); // the message's "end"
      ex.bodyDone = true;
    }
    try {
      const r = this.handler(req, res);
      if (r !== undefined)
        r.then(undefined, (e: unknown) => {
          this.handlerError(ex, e);
        });
    } catch (e) {
      this.handlerError(ex, e);
    }
  }

  private finishExchange(ex: Exchange): void {
    if (this.ex !== ex) return;
    this.ex = null;
    this.awaitingData = false;
    if (ex.res.mustClose || this.parser.dead) {
      this.close(null);
      return;
    }
    this.restartTimer = true;
    this.pump();
  }

  // ---- errors

  private headError(e: unknown): void {
    const err = e instanceof HttpError ? e : new HttpError("INVALID_REQUEST_LINE", 400, String(e));
    this.logger.info(
      `client ${this.peer}: ${err.message} (${err.status ?? "closed without response"})`,
    );
    if (err.status !== null && !this.socket.destroyed) {
      this.socket.write(errorResponse(err.status, this.serverHeader), "latin1");
    }
    this.close(null);
  }

  private bodyError(ex: Exchange, e: unknown): void {
    const err = e instanceof HttpError ? e : new HttpError("INVALID_CHUNK", 400, String(e));
    this.logger.info(
      `client ${this.peer}: ${err.message} (${err.status ?? "closed"}) in the body of ${ex.head.method} ${ex.head.target}`,
    );
    ex.body.fail(err);
    if (ex.responseDone) {
      this.close(null);
      return;
    }
    ex.res.closeAfter();
    if (!ex.res.headersSent) ex.res.sendError(err.status ?? 400);
  }

  private handlerError(ex: Exchange, e: unknown): void {
    const st = e instanceof HttpError ? e.status : null;
    if (st !== null && st < 500)
      this.logger.info(`client ${this.peer}: ${(e as Error).message} (${st})`);
    else
      this.logger.error(
        `error handling ${ex.head.method} ${ex.head.target}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
    if (ex.res.finished) return;
    if (!ex.res.headersSent) {
      ex.res.closeAfter();
      ex.res.sendError(st ?? 500);
    } else this.destroy();
  }

  // ---- ResponseHost / BodyHost

  decideClose(res: Response): boolean {
    const ex = this.ex;
    if (ex === null || ex.res !== res) return true;
    return (
      res.closeRequested ||
      !ex.head.keepAlive ||
      this.limits.keepaliveTimeoutMs <= 0 ||
      this.info.requests >= this.limits.keepaliveRequests ||
      this.owner.draining ||
      this.clientEnded ||
      this.parser.dead ||
      // RFC 9110 §10.1.1: we answered without reading; the client may or may not send the body.
      (ex.head.expectContinue && !ex.body.started && !ex.bodyDone)
    );
  }

  responseEnded(res: Response): void {
    const ex = this.ex;
    if (ex === null || ex.res !== res) return;
    ex.responseDone = true;
    if (ex.bodyDone) {
      this.finishExchange(ex);
      return;
    }
    if (res.mustClose) {
      this.close(null);
      return;
    }
    // Keep-alive: read and drop the rest of the body before the next request.
    ex.discarding = true;
    ex.body.abandon();
    this.pump();
  }

  upgrade(res: Response, head: string): UpgradedConnection {
    const ex = this.ex;
    if (ex === null || ex.res !== res) throw new Error("upgrade: not the current exchange");
    if (!ex.bodyDone) throw new Error("upgrade: the request body has not been read");
    this.socket.write(head, "latin1");
    // From here the socket is the caller's: no parsing, no timer, no keep-alive. The
    // 'close' listener stays so the server still counts (and drain can end) the tunnel.
    this.ex = null;
    this.upgraded = true;
    this.clearTimer();
    this.socket.off("data", this.dataListener);
    this.socket.off("end", this.endListener);
    this.socket.off("drain", this.drainListener);
    this.socket.pause();
    this.paused = false;
    return { socket: this.socket, head: this.parser.takeBuffered() };
  }

  writeBlocked(): void {
    this.rearm();
  }

  abort(): void {
    this.destroy();
  }

  bodyWanted(body: Body): void {
    const ex = this.ex;
    if (ex === null || ex.body !== body) return;
    // RFC 9110 §10.1.1: 100 Continue only when we are about to read the content.
    if (ex.head.expectContinue && !ex.continueSent && !ex.res.headersSent && !ex.bodyDone) {
      ex.continueSent = true;
      this.socket.write("HTTP/1.1 100 Continue\r\n\r\n", "latin1");
    }
    this.restartTimer = true;
    this.pump();
  }

  bodyConsumed(body: Body): void {
    const ex = this.ex;
    if (ex === null || ex.body !== body || ex.bodyDone) return;
    if (body.queuedBytes < BODY_HWM) this.pump();
  }

  // ---- closing

  /** Graceful close: FIN after pending writes, then keep reading (dropping) so an unread request does not turn our last response into a TCP reset. */
  close(reason: string | null): void {
    if (this.closing || this.destroyed) return;
    if (reason !== null) this.logger.debug(`client ${this.peer}: ${reason}`);
    this.closing = true;
    const ex = this.ex;
    if (ex !== null) {
      if (!ex.bodyDone) ex.body.fail(new HttpError("NO_MORE_DATA", null, "connection closing"));
      if (!ex.res.finished) ex.res.markGone();
    }
    this.socket.end();
    if (this.clientEnded && this.socket.writableFinished) {
      this.destroy();
      return;
    }
    this.socket.once("finish", () => {
      if (this.clientEnded) this.destroy();
      else this.rearm();
    });
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.rearm();
  }

  /** Drain: close now when idle; otherwise the current response says Connection: close. */
  closeIfIdle(): void {
    if (this.upgraded) return;
    if (this.idle) this.close("server draining");
  }

  destroy(): void {
    if (this.destroyed) return;
    this.clearTimer();
    this.socket.destroy();
  }

  // ---- flow control and the one timer

  private updateFlow(): void {
    if (this.closing || this.destroyed || this.upgraded) return;
    const ex = this.ex;
    const pause =
      ex === null
        ? this.socket.writableNeedDrain
        : this.parser.buffered >= READ_HWM || ex.body.queuedBytes >= BODY_HWM;
    if (pause && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!pause && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private phase(): Phase {
    if (this.destroyed || this.upgraded) return Phase.None;
    if (this.closing) return this.socket.writableFinished ? Phase.Linger : Phase.Send;
    if (this.socket.writableNeedDrain) return Phase.Send;
    const ex = this.ex;
    if (ex !== null) {
      return !ex.bodyDone && this.awaitingData && (ex.discarding || ex.body.started)
        ? Phase.Body
        : Phase.None;
    }
    if (!this.parser.betweenMessages) return Phase.Head;
    return this.info.requests === 0 ? Phase.Fresh : Phase.Idle;
  }

  private duration(p: Phase): number {
    const l = this.limits;
    switch (p) {
      case Phase.Fresh:
      case Phase.Head:
        return l.headerTimeoutMs;
      case Phase.Idle:
        return l.keepaliveTimeoutMs;
      case Phase.Body:
        return l.bodyTimeoutMs;
      case Phase.Send:
        return l.sendTimeoutMs;
      case Phase.Linger:
        return l.lingeringTimeMs;
      case Phase.None:
        return 0;
    }
  }

  /**
   * Point the one timer at the current phase: a deadline, checked when the timer fires.
   * Moving the deadline later costs nothing (a timer still pending fires early, sees the
   * deadline has moved and sleeps for the rest), so the per-request Idle → None → Send
   * → Idle changes and each restart on progress cost a clock read, not a timer
   * operation. Only a deadline earlier than the pending timer re-schedules it.
   */
  private rearm(): void {
    const p = this.phase();
    const restart = this.restartTimer;
    this.restartTimer = false;
    // Head keeps its deadline from the first byte; the others restart on progress.
    if (p === this.timerPhase && !(restart && p !== Phase.Head)) return;
    this.timerPhase = p;
    if (p === Phase.None) return; // parked: a timer firing now does nothing
    const now = performance.now();
    this.deadline = now + Math.max(1, this.duration(p));
    if (this.timerAt !== 0 && this.timerAt <= this.deadline) return;
    this.schedule(this.deadline - now, now);
  }

  private schedule(ms: number, now: number): void {
    const d = Math.max(1, Math.ceil(ms));
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(this.timerFired, d);
    this.timerAt = now + d;
  }

  private readonly timerFired = (): void => {
    this.timerAt = 0;
    const p = this.timerPhase;
    if (p === Phase.None || this.destroyed) return;
    const now = performance.now();
    if (now < this.deadline) {
      this.schedule(this.deadline - now, now);
      return;
    }
    this.guard(() => {
      this.onTimeout(p);
    });
  };

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.timerAt = 0;
    this.timerPhase = Phase.None;
  }

  private onTimeout(p: Phase): void {
    this.timerPhase = Phase.None;
    if (this.destroyed) return;
    switch (p) {
      case Phase.Fresh:
      case Phase.Idle:
        this.close(p === Phase.Idle ? "keep-alive timeout" : "no request before header timeout");
        return;
      case Phase.Head:
        this.headError(new HttpError("TIMEOUT", 408, "client header timeout"));
        return;
      case Phase.Body: {
        const ex = this.ex;
        if (ex === null) return;
        if (ex.discarding) {
          this.close("body timeout while discarding");
          return;
        }
        this.bodyError(ex, new HttpError("TIMEOUT", 408, "client body timeout"));
        return;
      }
      case Phase.Send:
        this.logger.info(`client ${this.peer}: send timeout, closing`);
        this.destroy();
        return;
      case Phase.Linger:
      case Phase.None:
        this.destroy();
        return;
    }
  }
}
