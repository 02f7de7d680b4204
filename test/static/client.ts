// The static tests' view of the shared raw-socket helper (test/helpers/raw.ts).
import { rawRequest, type ParsedResponse, type RawOptions } from "../helpers/raw.js";

export type RawResponse = ParsedResponse & {
  /** Every octet the server sent on the connection. */
  readonly raw: Buffer;
};

/** Send raw bytes, read until the server closes (or `count` responses), return every response. */
export async function exchange(
  port: number,
  data: string | Buffer,
  opts: RawOptions = {},
): Promise<RawResponse[]> {
  const r = await rawRequest(port, data, { timeoutMs: 5000, ...opts });
  if (r.timedOut)
    throw new Error("timeout; got " + JSON.stringify(r.raw.toString("latin1").slice(0, 300)));
  if (r.responses.length === 0)
    throw new Error("no response: " + JSON.stringify(r.raw.toString("latin1").slice(0, 300)));
  return r.responses.map((p) => Object.assign(p, { raw: r.raw }));
}

/** One request with `Connection: close`: `request(port, "GET", "/x", { Range: "bytes=0-1" })`. */
export async function request(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  let s = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  s += "Connection: close\r\n\r\n";
  const [first] = await exchange(port, Buffer.from(s, "latin1"), { methods: [method] });
  return first!;
}
