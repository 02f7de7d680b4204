// Start an HttpServer on 127.0.0.1:0 with a handler, for the static tests.
import { HttpServer } from "../../src/http/server.js";
import { Logger, LineSink } from "../../src/core/log.js";
import type { Handler } from "../../src/http/types.js";

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

export async function startServer(handler: Handler): Promise<Running> {
  const server = new HttpServer({ handler, logger: new Logger(new LineSink("-"), "critical") });
  await server.listen(["127.0.0.1:0"]);
  const port = server.address()[0]!.port;
  return { port, close: () => server.drain(1000).then(() => undefined) };
}
