// In-process nginx-mode servers for the site tests: a config text with PORT and DIR
// placeholders, loaded and bound on a free loopback port; requests as raw bytes.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadNginxConfig } from "../../src/config/nginx/index.js";
import { LineSink, Logger } from "../../src/core/log.js";
import { SiteServer } from "../../src/site/index.js";
import { rawRequest, type ParsedResponse } from "../helpers/raw.js";

/** A port that was free a moment ago (the config needs a fixed port, as nginx's tests). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  await new Promise<void>((r) => {
    s.close(() => {
      r();
    });
  });
  return port;
}

export function tempDir(files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "narwhal-site-"));
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

export interface RunningSite {
  readonly port: number;
  readonly dir: string;
  readonly server: SiteServer;
  readonly confPath: string;
  stop(): Promise<void>;
}

/** Replace PORT and DIR in a config text. */
export function fill(
  text: string,
  port: number,
  dir: string,
  extra: Record<string, string> = {},
): string {
  let t = text;
  for (const [k, v] of Object.entries(extra)) t = t.replaceAll(k, v);
  return t.replaceAll("PORT", String(port)).replaceAll("DIR", dir);
}

export async function startSite(
  conf: string,
  files: Record<string, string | Buffer> = {},
  logLevel: "critical" | "debug" = "critical",
  extra: Record<string, string> = {},
): Promise<RunningSite> {
  const dir = tempDir(files);
  const port = await freePort();
  const confPath = join(dir, "site.conf");
  writeFileSync(confPath, fill(conf, port, dir, extra));
  const log = new Logger(new LineSink("-"), logLevel);
  let server: SiteServer;
  try {
    server = await SiteServer.start(loadNginxConfig(confPath), log);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    dir,
    server,
    confPath,
    async stop() {
      await server.stop(500);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Got extends ParsedResponse {
  readonly closed: boolean;
}

/** One request (Connection: close unless given); resolves with the response. */
export async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  body = "",
): Promise<Got> {
  const h: Record<string, string> = { Host: "localhost", Connection: "close", ...headers };
  if (body !== "") h["Content-Length"] = String(Buffer.byteLength(body));
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) text += `${k}: ${v}\r\n`;
  text += "\r\n" + body;
  const r = await rawRequest(port, text, {
    count: 1,
    settleMs: 20,
    timeoutMs: 3000,
    methods: [method],
  });
  const res = r.responses.find((x) => x.status >= 200);
  if (res === undefined) {
    if (r.closed)
      return {
        version: "",
        status: 0,
        reason: "",
        headers: [],
        body: Buffer.alloc(0),
        text: "",
        header: () => null,
        closed: true,
      };
    throw new Error(`no response to ${method} ${path}`);
  }
  return { ...res, closed: r.closed };
}

/** The child's exit code once it exits, or null if it is still running after `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const t = setTimeout(() => {
      resolve(null);
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
