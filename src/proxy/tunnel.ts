/**
 * After a `101 Switching Protocols` (RFC 9110 §15.2.2) the proxy stops speaking HTTP and
 * copies bytes both ways until either side closes (nginx's upgraded mode). Each
 * direction honours backpressure (pipe); a half-close is passed on, an error on one side
 * destroys both.
 */
import type { Duplex } from "node:stream";

export interface TunnelStats {
  /** Bytes client → upstream (after the request head). */
  up: number;
  /** Bytes upstream → client (after the 101 head). */
  down: number;
}

/** Splice two sockets; resolves once both are closed. `idleTimeout` 0 disables it. */
export function tunnel(
  client: Duplex,
  upstream: Duplex,
  clientHead: Buffer,
  idleTimeout: number,
): Promise<TunnelStats> {
  const stats: TunnelStats = { up: 0, down: 0 };
  return new Promise((resolve) => {
    let closed = 0;
    let timer: NodeJS.Timeout | null = null;
    const kill = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const touch = (): void => {
      if (idleTimeout <= 0) return;
      if (timer !== null) timer.refresh();
      else timer = setTimeout(kill, idleTimeout);
    };
    const onClose = (): void => {
      if (++closed === 2) {
        if (timer !== null) clearTimeout(timer);
        resolve(stats);
      }
    };
    client.on("data", (c: Buffer) => {
      stats.up += c.length;
      touch();
    });
    upstream.on("data", (c: Buffer) => {
      stats.down += c.length;
      touch();
    });
    client.on("error", kill);
    upstream.on("error", kill);
    client.on("close", () => {
      upstream.destroy();
      onClose();
    });
    upstream.on("close", () => {
      client.destroy();
      onClose();
    });
    touch();
    if (clientHead.length > 0) {
      stats.up += clientHead.length;
      upstream.write(clientHead);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    upstream.resume();
  });
}
