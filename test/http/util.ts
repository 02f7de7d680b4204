/** Start an HttpServer on 127.0.0.1:0 with some settings changed, for socket-level tests. */
import { HttpServer, type HttpServerOptions } from "../../src/http/server.js";
import { limitsFromSettings, type HttpLimits } from "../../src/http/limits.js";
import { Settings } from "../../src/config/resolved.js";
import type { SettingValue } from "../../src/config/setting-types.js";
import type { Handler } from "../../src/http/types.js";
import { testLogger } from "../corpus/echo.js";

export interface TestServer {
  readonly server: HttpServer;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startServer(
  handler: Handler,
  settings: Record<string, SettingValue> = {},
  limits: Partial<HttpLimits> = {},
  opts: Partial<HttpServerOptions> = {},
): Promise<TestServer> {
  const s = new Settings().with(settings);
  const server = new HttpServer({
    handler,
    logger: testLogger(),
    settings: s,
    limits: { ...limitsFromSettings(s), ...limits },
    ...opts,
  });
  await server.listen(["127.0.0.1:0"]);
  return { server, port: server.address()[0]!.port, stop: () => server.drain(200) };
}

/** A handler answering "hello" (text/plain) without reading the body. */
export const hello: Handler = (_req, res) => {
  res.writeHead(200, [["Content-Type", "text/plain"]]);
  res.end("hello");
};

/** Reads the whole body and answers it back with its length. */
export const echoBody: Handler = async (req, res) => {
  const parts: Buffer[] = [];
  for await (const c of req.body) parts.push(c);
  const b = Buffer.concat(parts);
  res.writeHead(200, [
    ["Content-Type", "application/octet-stream"],
    ["X-Body-Length", String(b.length)],
  ]);
  res.end(b);
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
