/**
 * `proxy_buffering on` without a spool while the client keeps up: each upstream chunk is
 * written straight to the client; the first write the client's socket cannot take starts
 * a ResponseSpool, and from then on the upstream is read into it at full speed while the
 * client drains it (so a slow client still never holds the upstream). A small reply to a
 * ready client thus costs no spool, no async iteration and no extra copies.
 */
import type { ResponseWriter } from "../http/types.js";
import type { BodySink, UpstreamFailure, UpstreamResponse } from "./failure.js";
import { ResponseSpool, type SpoolOptions } from "./spool.js";

/** How the relay ended: body complete, client gone, or the upstream broke off. */
export type RelayEnd = "ok" | "gone" | "broken";

class DirectSink implements BodySink {
  spool: ResponseSpool | null = null;
  ended = false;
  failure: UpstreamFailure | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly r: UpstreamResponse,
    private readonly res: ResponseWriter,
    private readonly gone: () => boolean,
    private readonly opts: SpoolOptions,
  ) {}

  data(chunk: Buffer): boolean {
    if (this.spool !== null) return this.spool.data(chunk);
    if (this.gone()) return true;
    if (!this.res.write(chunk)) {
      const r = this.r;
      this.spool = new ResponseSpool(this.opts, () => {
        r.resume();
      });
      this.notify();
    }
    return true;
  }

  end(): void {
    if (this.spool !== null) this.spool.end();
    else this.ended = true;
    this.notify();
  }

  error(err: UpstreamFailure): void {
    if (this.spool !== null) this.spool.error(err);
    else this.failure = err;
    this.notify();
  }

  /** Settled: ended, failed, or switched to the spool. */
  get settled(): boolean {
    return this.ended || this.failure !== null || this.spool !== null;
  }

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  notify(): void {
    const w = this.wake;
    this.wake = null;
    if (w !== null) w();
  }
}

/**
 * Relay the body of `r` to `res` (whose head is written). `finishUpstream` runs as soon
 * as the upstream's part is over (body complete, or all of it spooled).
 */
export async function relayBuffered(
  r: UpstreamResponse,
  res: ResponseWriter,
  gone: () => boolean,
  opts: SpoolOptions,
  finishUpstream: () => void,
): Promise<RelayEnd> {
  const sink = new DirectSink(r, res, gone, opts);
  r.attach(sink);
  // A client that goes away wakes the wait (the handler also aborts the upstream).
  res.onClientGone(() => {
    sink.notify();
  });
  while (!sink.settled && !gone()) await sink.wait();
  const spool = sink.spool;
  if (spool === null) {
    finishUpstream();
    if (gone()) {
      r.abort();
      return "gone";
    }
    if (sink.failure !== null) return "broken";
    res.end();
    return "ok";
  }
  // The client fell behind: the upstream goes on into the spool.
  void spool.done.then(finishUpstream);
  try {
    await res.drain();
    for await (const chunk of spool.chunks()) {
      if (gone()) break;
      if (!res.write(chunk)) await res.drain();
    }
    if (gone()) {
      r.abort();
      return "gone";
    }
    res.end();
    return "ok";
  } catch {
    // A client that left makes drain() fail too: that is not the upstream's doing.
    if (gone()) {
      r.abort();
      return "gone";
    }
    return "broken";
  } finally {
    finishUpstream();
    await spool.dispose();
  }
}
