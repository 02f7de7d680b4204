/**
 * One benchmark server process: `tsx bench/http/serve.ts ours|node`. Prints {"port":N}
 * on stdout, then serves "Hello, World!" until killed. Same handler work on both sides.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpServer } from "../../src/http/server.js";
import { Logger, LineSink } from "../../src/core/log.js";

const BODY = "Hello, World!";
// Exit cleanly on SIGTERM/SIGINT so `node --cpu-prof` can write its profile.
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
const kind = process.argv[2];

if (kind === "ours") {
  const server = new HttpServer({
    handler: (_req, res) => {
      res.writeHead(200, [["Content-Type", "text/plain"]]);
      res.end(BODY);
    },
    logger: new Logger(new LineSink("-"), "warning"),
    maxConnections: 10_000,
  });
  await server.listen(["127.0.0.1:0"]);
  console.log(JSON.stringify({ port: server.address()[0]!.port }));
} else if (kind === "node") {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(BODY);
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
  });
} else {
  console.error("usage: serve.ts ours|node");
  process.exit(2);
}
