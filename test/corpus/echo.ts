/**
 * The corpus "echo app" in-process: reads the whole body, answers 200 with the request as
 * a WSGI-environ-shaped JSON object (the str values Gunicorn would put in environ, plus
 * body_base64). The WSGI gateway replaces this with the real Python echo app by passing
 * another StartServer to the runner.
 */
import { HttpServer } from "../../src/http/server.js";
import { limitsFromSettings } from "../../src/http/limits.js";
import { Logger, LineSink } from "../../src/core/log.js";
import type { Settings } from "../../src/config/resolved.js";
import type { Handler, IncomingRequest } from "../../src/http/types.js";

/** A server under test, as the corpus runner sees it. */
export interface ServerUnderTest {
  readonly port: number;
  /** Requests the application completed (read the whole body and answered). */
  appRequests(): number;
  stop(): Promise<void>;
}

export type StartServer = (settings: Settings) => Promise<ServerUnderTest>;

/** PEP 3333 PATH_INFO: the percent-decoded octets read as latin-1. */
export function percentDecodeLatin1(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export function environOf(req: IncomingRequest, body: Buffer): Record<string, string> {
  // Gunicorn: a SCRIPT_NAME header (kept only from a trusted front end) sets SCRIPT_NAME,
  // and PATH_INFO is the rest of the path.
  const script = req.headers.find(([n]) => n.toUpperCase() === "SCRIPT_NAME")?.[1] ?? "";
  let path = req.targetForm === "origin" || req.targetForm === "absolute" ? req.path : "";
  if (script !== "") {
    if (!path.startsWith(script)) {
      throw new Error(`path ${path} does not start with SCRIPT_NAME ${script}`);
    }
    path = path.slice(script.length);
  }
  const env: Record<string, string> = {
    REQUEST_METHOD: req.method,
    SERVER_PROTOCOL: `HTTP/${req.versionMajor}.${req.versionMinor}`,
    QUERY_STRING: req.query,
    RAW_URI: req.target,
    SCRIPT_NAME: script,
    PATH_INFO: percentDecodeLatin1(path),
    REMOTE_ADDR: req.connection.remoteAddress,
    REMOTE_PORT: String(req.connection.remotePort),
    SERVER_NAME: req.connection.localAddress,
    SERVER_PORT: String(req.connection.localPort),
    "wsgi.url_scheme": req.scheme,
  };
  for (const [name, value] of req.headers) {
    const up = name.toUpperCase();
    const key =
      up === "CONTENT-TYPE"
        ? "CONTENT_TYPE"
        : up === "CONTENT-LENGTH"
          ? "CONTENT_LENGTH"
          : "HTTP_" + up.replace(/-/g, "_");
    // Gunicorn joins repeated fields with ",".
    env[key] = env[key] === undefined ? value : `${env[key]},${value}`;
  }
  env["body_base64"] = body.toString("base64");
  return env;
}

export function echoHandler(onDone: () => void): Handler {
  return async (req, res) => {
    const parts: Buffer[] = [];
    for await (const chunk of req.body) parts.push(chunk);
    const data = JSON.stringify(environOf(req, Buffer.concat(parts)));
    onDone();
    res.writeHead(200, [["Content-Type", "application/json"]]);
    res.end(Buffer.from(data, "utf8"));
  };
}

/** Quiet logger for tests: set NARWHAL_TEST_LOG=info to see rejections. */
export function testLogger(): Logger {
  const level = process.env["NARWHAL_TEST_LOG"];
  return new Logger(new LineSink("-"), level === "debug" || level === "info" ? level : "critical");
}

export const startInProcessEcho: StartServer = async (settings) => {
  let count = 0;
  const server = new HttpServer({
    handler: echoHandler(() => count++),
    logger: testLogger(),
    limits: limitsFromSettings(settings),
  });
  await server.listen(["127.0.0.1:0"]);
  return {
    port: server.address()[0]!.port,
    appRequests: () => count,
    stop: () => server.drain(500),
  };
};
