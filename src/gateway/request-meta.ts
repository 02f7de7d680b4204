/**
 * What the worker needs to build a PEP 3333 environ, taken from a parsed request
 * (docs/protocol.md, "REQUEST payload"). Pure: no I/O.
 *
 * SERVER_NAME / SERVER_PORT follow Gunicorn (gunicorn/http/wsgi.py `create`): the
 * listening socket's address and port; on a UNIX socket, the Host header (port 80/443
 * by scheme when it names none), since a socket path is not a server name.
 */
import type { IncomingRequest } from "../http/types.js";
import type { RequestMeta } from "../protocol/index.js";

export type MetaWithoutBody = Omit<RequestMeta, "bodyLength" | "bodyMode" | "bodyFile">;

function hostPort(host: string, scheme: string): [string, number] {
  // "[::1]:8000", "example.com:8080", "example.com"
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  const name = m?.[1] ?? host;
  const port = m?.[2] !== undefined ? Number(m[2]) : scheme === "https" ? 443 : 80;
  return [name, port <= 0xffff ? port : 0];
}

/** SERVER_PROTOCOL, without building the common ones per request. */
function protocolName(major: number, minor: number): string {
  if (major === 1) {
    if (minor === 1) return "HTTP/1.1";
    if (minor === 0) return "HTTP/1.0";
  }
  return `HTTP/${major}.${minor}`;
}

export function requestMeta(req: IncomingRequest): MetaWithoutBody {
  const c = req.connection;
  let serverName = c.localAddress;
  let serverPort = c.localPort;
  if (c.family === "unix") {
    const host = req.header("host");
    [serverName, serverPort] = host !== null && host !== "" ? hostPort(host, req.scheme) : ["", 0];
  }
  return {
    method: req.method,
    urlScheme: req.scheme,
    serverProtocol: protocolName(req.versionMajor, req.versionMinor),
    target: req.target,
    // Authority-form (CONNECT) has no path; the app sees "" and decides.
    path: req.path,
    query: req.query,
    // "" = the worker's SCRIPT_NAME environment variable (Gunicorn).
    scriptName: "",
    remoteAddr: c.remoteAddress,
    remotePort: c.remotePort,
    serverName,
    serverPort,
    headers: req.headers,
  };
}
