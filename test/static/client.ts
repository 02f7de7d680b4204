// A minimal raw HTTP/1.1 client for the static tests: write bytes, read to the close, parse.
import { connect } from "node:net";

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  /** Lower-cased names, in order. */
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
  /** Everything received. */
  readonly raw: Buffer;
  header(name: string): string | null;
  all(name: string): string[];
}

function decodeChunked(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const eol = b.indexOf("\r\n", i);
    if (eol < 0) throw new Error("truncated chunked body");
    const size = parseInt(b.subarray(i, eol).toString("latin1"), 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    if (size === 0) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  throw new Error("too many chunks");
}

export function parseResponse(raw: Buffer, head = false): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0)
    throw new Error(
      "no complete response head: " + JSON.stringify(raw.toString("latin1").slice(0, 200)),
    );
  const lines = raw.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? "");
  if (m === null) throw new Error("bad status line " + JSON.stringify(lines[0]));
  const headers: Array<[string, string]> = lines.slice(1).map((l) => {
    const c = l.indexOf(":");
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
  });
  const get = (n: string): string | null => headers.find(([k]) => k === n)?.[1] ?? null;
  let body = raw.subarray(end + 4);
  const status = Number(m[1]);
  if (!head && status !== 304 && status !== 204 && get("transfer-encoding") === "chunked")
    body = decodeChunked(body);
  return {
    status,
    reason: m[2] ?? "",
    headers,
    body,
    raw,
    header: get,
    all: (n) => headers.filter(([k]) => k === n).map(([, v]) => v),
  };
}

/** Send `request` (a full request, ideally with `Connection: close`) and read until the server closes. */
export function rawExchange(
  port: number,
  request: string | Buffer,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new Error(
          "timeout; got " + JSON.stringify(Buffer.concat(chunks).toString("latin1").slice(0, 300)),
        ),
      );
    }, timeoutMs);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.write(request);
  });
}

/** GET-style helper: `req(port, "GET", "/x", { Range: "bytes=0-1" })`. */
export async function request(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  let s = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  s += "Connection: close\r\n\r\n";
  return parseResponse(await rawExchange(port, Buffer.from(s, "latin1")), method === "HEAD");
}
