/**
 * A bounded load generator for the across-hosts test, run inside the front's network
 * namespace: `load-client BASE_URL CONCURRENCY MAX_MS`.
 *
 * CONCURRENCY loops send GET / back to back until told to stop or MAX_MS has passed.
 * Commands on stdin, one a line:  `post ID`  sends POST /slow?id=ID once;  `stop`  ends
 * the loops. Every finished request is one JSON line on stdout:
 *   {"k":"get"|"post","id":...,"t0":ms,"t1":ms,"s":status (0: no response),"h":"a"|"b"|"","e":error}
 * and the last line is {"k":"done"}.
 */
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";

const [base = "", conc = "4", max = "10000"] = process.argv.slice(2);
const concurrency = Math.max(1, Math.min(32, Number(conc)));
const deadline = Date.now() + Math.min(60_000, Number(max));
const url = new URL(base);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 8 });

let stopping = false;
const pending = new Set<Promise<void>>();

function line(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + "\n");
}

/** One request; resolves with status 0 and the error on any failure (5 s bound). */
function send(
  method: string,
  path: string,
  body: string | null,
): Promise<{ s: number; text: string; e: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { Host: "front.test" };
    if (body !== null) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers, agent, timeout: 5000 },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          resolve({ s: res.statusCode ?? 0, text, e: "" });
        });
        res.on("error", (err) => {
          resolve({ s: 0, text, e: err.message });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => {
      resolve({ s: 0, text: "", e: err.message });
    });
    req.end(body ?? undefined);
  });
}

const hostOf = (text: string): string => /^host=(\w+)/.exec(text)?.[1] ?? "";

async function getLoop(): Promise<void> {
  while (!stopping && Date.now() < deadline) {
    const t0 = Date.now();
    const r = await send("GET", "/", null);
    line({ k: "get", t0, t1: Date.now(), s: r.s, h: hostOf(r.text), e: r.e });
  }
}

function post(id: string): void {
  const t0 = Date.now();
  const p = send("POST", `/slow?id=${encodeURIComponent(id)}`, `id=${id}`).then((r) => {
    line({ k: "post", id, t0, t1: Date.now(), s: r.s, h: hostOf(r.text), e: r.e });
  });
  pending.add(p);
  void p.finally(() => pending.delete(p));
}

createInterface({ input: process.stdin }).on("line", (cmd) => {
  const [verb, arg] = cmd.trim().split(/\s+/);
  if (verb === "post" && arg !== undefined) post(arg);
  else if (verb === "stop") stopping = true;
});

const loops = Array.from({ length: concurrency }, () => getLoop());
await Promise.all(loops);
await Promise.all([...pending]);
line({ k: "done" });
agent.destroy();
process.exit(0);
