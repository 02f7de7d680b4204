/**
 * A proxy HttpServer in front of tiny node:http upstreams, all on loopback port 0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { HttpServer } from "../../src/http/server.js";
import { normalizeUri } from "../../src/router/normalize.js";
import { DEFAULT_LIMITS, type HttpLimits } from "../../src/http/limits.js";
import { Logger, LineSink } from "../../src/core/log.js";
import type { IncomingRequest } from "../../src/http/types.js";
import { createProxyHandler } from "../../src/proxy/handler.js";
import { UpstreamClients } from "../../src/proxy/client.js";
import { UpstreamGroup } from "../../src/proxy/upstream.js";
import {
  PROXY_DEFAULTS,
  SERVER_DEFAULTS,
  type ProxyOptions,
  type ProxyOutcome,
  type ProxyRequestContext,
  type UpstreamServerSpec,
  type UpstreamSpec,
} from "../../src/proxy/types.js";

export const quiet = (): Logger => new Logger(new LineSink("-"), "critical");

export interface Upstream {
  readonly server: Server;
  readonly port: number;
  readonly address: string;
  /** Requests seen, in order. */
  readonly seen: Array<{
    method: string;
    url: string;
    headers: Array<[string, string]>;
    body: string;
    remotePort: number;
  }>;
  close(): Promise<void>;
}

/** A node:http upstream; `respond` may be async; the body is read before it runs. */
export async function upstream(
  respond: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>,
  listenOn: { path: string } | null = null,
): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      const headers: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers,
        body: body.toString("latin1"),
        remotePort: req.socket.remotePort ?? 0,
      });
      void respond(req, res, body);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) =>
    listenOn ? server.listen(listenOn.path, r) : server.listen(0, "127.0.0.1", r),
  );
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  return {
    server,
    port,
    address: listenOn ? `unix:${listenOn.path}` : `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => {
          r();
        });
      }),
  };
}

/**
 * A port with nothing listening. Privileged ports (< 1024) cannot be taken by any test
 * server bound later (a freed ephemeral port could be), so refused stays refused.
 */
let nextDead = 1;
export async function deadPort(): Promise<number> {
  while (nextDead < 1024) {
    const port = nextDead++;
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(false);
      });
      s.once("error", (e: NodeJS.ErrnoException) => {
        resolve(e.code === "ECONNREFUSED");
      });
    });
    if (refused) return port;
  }
  throw new Error("no refused port below 1024");
}

export function spec(
  name: string,
  servers: Array<Partial<UpstreamServerSpec> & { address: string }>,
  extra: Partial<UpstreamSpec> = {},
): UpstreamSpec {
  return {
    name,
    servers: servers.map((s) => ({ ...SERVER_DEFAULTS, ...s })),
    balance: "round_robin",
    keepalive: null,
    keepaliveTimeout: 60_000,
    keepaliveRequests: 1000,
    ...extra,
  };
}

export interface ProxyFront {
  readonly port: number;
  readonly outcomes: ProxyOutcome[];
  close(): Promise<void>;
}

/** The request pipeline in miniature: $vars from the request, one prefix location. */
export function contextOf(req: IncomingRequest, location: string): ProxyRequestContext {
  const remote = req.connection.remoteAddress;
  const vars = (name: string): string | null => {
    if (name === "host") return (req.header("host") ?? "").replace(/:\d+$/, "");
    if (name === "remote_addr") return remote;
    if (name === "scheme") return req.scheme;
    if (name === "request_uri") return req.target;
    if (name.startsWith("http_")) return req.header(name.slice(5).replace(/_/g, "-"));
    return null;
  };
  return {
    vars,
    uri: (normalizeUri(req.path, { mergeSlashes: true }) as { uri: string }).uri,
    args: req.query,
    locationPrefix: location,
    uriChanged: false,
    clientAddress: remote,
  };
}

export async function front(
  options: Partial<ProxyOptions> & { pass: ProxyOptions["pass"] },
  groups: UpstreamGroup[] = [],
  location = "/",
  limits: Partial<HttpLimits> = {},
  log: Logger | null = null,
): Promise<ProxyFront> {
  const clients = new UpstreamClients();
  const upstreams = new Map(groups.map((g) => [g.name.toLowerCase(), g]));
  const outcomes: ProxyOutcome[] = [];
  const server = new HttpServer({
    logger: quiet(),
    limits: { ...DEFAULT_LIMITS, ...limits },
    handler: createProxyHandler(
      { ...PROXY_DEFAULTS, ...options },
      { clients, upstreams, log },
      location,
      (req) => contextOf(req, location),
      (_req, out) => outcomes.push(out),
    ),
  });
  await server.listen(["127.0.0.1:0"]);
  const port = server.address()[0]!.port;
  return {
    port,
    outcomes,
    async close() {
      await server.drain(200);
      await clients.destroy();
    },
  };
}

export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n${extra}\r\n`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
