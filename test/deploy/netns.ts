/**
 * Hosts for the deployment tests as Linux network namespaces (`ip netns`): each has its
 * own loopback and ports, so a test can use the article's own ports (80, 8000) and
 * addresses that exist nowhere else. Everything made here is removed by `destroy()`
 * (and on exit); traffic only ever flows between namespaces the test created.
 */
import { execFileSync } from "node:child_process";
import { sleep } from "./harness.js";

function ip(args: readonly string[]): string {
  return execFileSync("ip", [...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 10_000,
  });
}

/** null when this machine lets us create namespaces, else why not. */
export function netnsRefused(): string | null {
  const probe = `nw-probe-${process.pid}`;
  try {
    ip(["netns", "add", probe]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return `ip netns add refused: ${(e.stderr ?? e.message).trim()}`;
  }
  try {
    ip(["netns", "del", probe]);
  } catch {
    // best effort
  }
  return null;
}

const made = new Set<string>();
process.on("exit", () => {
  for (const ns of made) {
    try {
      ip(["netns", "del", ns]);
    } catch {
      // already gone
    }
  }
});

export class Hosts {
  readonly names: string[] = [];

  /** A namespace named `nw-<role>-<pid>` with its loopback up. */
  add(role: string): string {
    const ns = `nw-${role}-${process.pid}`;
    ip(["netns", "add", ns]);
    made.add(ns);
    this.names.push(ns);
    ip(["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * A point-to-point link: a veth pair with one end in each namespace, `addrA`/`addrB`
   * in CIDR form (e.g. "10.77.1.1/24").
   */
  link(nsA: string, ifA: string, addrA: string, nsB: string, ifB: string, addrB: string): void {
    ip(["-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB]);
    ip(["-n", nsA, "addr", "add", addrA, "dev", ifA]);
    ip(["-n", nsB, "addr", "add", addrB, "dev", ifB]);
    ip(["-n", nsA, "link", "set", ifA, "up"]);
    ip(["-n", nsB, "link", "set", ifB, "up"]);
  }

  /** Removes every namespace (and so its veth ends). Processes must be stopped first. */
  destroy(): void {
    for (const ns of this.names.splice(0)) {
      try {
        ip(["netns", "del", ns]);
      } catch {
        // already gone
      }
      made.delete(ns);
    }
  }
}

/** Waits until something listens on TCP `port` inside `ns` (read with ss, no traffic). */
export async function waitListening(
  ns: string,
  port: number,
  alive: () => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = execFileSync("ip", ["netns", "exec", ns, "ss", "-Hltn", `sport = :${port}`], {
      encoding: "utf8",
      timeout: 5000,
    });
    if (out.trim() !== "") return;
    if (!alive()) throw new Error(`the server for ${ns}:${port} exited`);
    if (Date.now() > deadline)
      throw new Error(`nothing listens on ${ns}:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}
