/**
 * A bounded loopback load generator: `concurrency` loops of keep-alive GETs against one
 * port until stop() (or `maxMs`), counting successes and failures and the bodies seen.
 */
import { Agent, request } from "node:http";

export interface LoadResult {
  ok: number;
  failed: number;
  /** status/error → count, for failures */
  failures: Map<string, number>;
  /** response body → count (the app's answers, e.g. its version or pid) */
  bodies: Map<string, number>;
}

export interface Load {
  readonly result: LoadResult;
  /** Stop the loops and wait for the requests in flight. */
  stop(): Promise<LoadResult>;
}

function get(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, timeout: 15_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export function startLoad(port: number, path: string, concurrency = 8, maxMs = 60_000): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failed: 0, failures: new Map(), bodies: new Map() };
  let running = true;
  const until = Date.now() + maxMs;
  const count = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  const loop = async (): Promise<void> => {
    while (running && Date.now() < until) {
      try {
        const r = await get(agent, port, path);
        if (r.status === 200) {
          result.ok++;
          count(result.bodies, r.body);
        } else {
          result.failed++;
          count(result.failures, `${r.status} ${r.body.slice(0, 60)}`);
        }
      } catch (err) {
        result.failed++;
        count(result.failures, (err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    result,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}
