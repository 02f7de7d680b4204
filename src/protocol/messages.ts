/**
 * Typed payloads of every frame type (layouts drawn in docs/protocol.md). The hot ones,
 * REQUEST and RESPONSE_HEAD, are binary; rare control frames carry a JSON object.
 * Each encoder returns complete frames; each decoder takes a Frame's payload.
 */
import { ProtocolError } from "./errors.js";
import {
  FieldReader,
  FieldWriter,
  latin1Length,
  MAX_HEADERS,
  MAX_STRING,
  readTable,
  utf8Length,
  writeTable,
} from "./fields.js";
import {
  EMPTY,
  encodeFrame,
  FrameType,
  frameHeader,
  HEADER_SIZE,
  MAX_CHUNK,
  MAX_CONTROL_PAYLOAD,
  MAX_PING_PAYLOAD,
  PROTOCOL_VERSION,
  validateHeader,
  writeHeader,
} from "./frame.js";

/** Header fields in wire order, latin-1 strings (one char per octet). */
export type HeaderPairs = ReadonlyArray<readonly [name: string, value: string]>;

/** Where the request body is: after the metadata, in BODY frames, or in a spilled file. */
export const BodyMode = { INLINE: 0, FRAMES: 1, FILE: 2 } as const;
export type BodyMode = (typeof BodyMode)[keyof typeof BodyMode];

export interface RequestMeta {
  /** REQUEST_METHOD. */
  readonly method: string;
  /** wsgi.url_scheme, decided by Node ("http" | "https", X-Forwarded-Proto already applied). */
  readonly urlScheme: string;
  /** SERVER_PROTOCOL, e.g. "HTTP/1.1". */
  readonly serverProtocol: string;
  /** RAW_URI: the request-target exactly as sent. */
  readonly target: string;
  /** Raw path, not percent-decoded (the worker decodes it into PATH_INFO). */
  readonly path: string;
  /** QUERY_STRING: raw, without "?". */
  readonly query: string;
  /** SCRIPT_NAME for this request; "" = the worker's own SCRIPT_NAME env var (Gunicorn). */
  readonly scriptName: string;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverName: string;
  readonly serverPort: number;
  /** Fields the app sees as HTTP_*, CONTENT_TYPE, CONTENT_LENGTH, in wire order. */
  readonly headers: HeaderPairs;
  /** Exact body size in bytes (de-chunked); the worker bounds wsgi.input by it. */
  readonly bodyLength: number;
  readonly bodyMode: BodyMode;
  /** Path of the spilled body (BodyMode.FILE), UTF-8; "" otherwise. Node deletes it after RESPONSE_END/APP_ERROR. */
  readonly bodyFile: string;
}

// REQUEST fixed part: mode u8, reserved u8, remote port u16, server port u16,
// header count u16, body length u64 = 16 bytes; then a string table of 10 + 2N entries
// (the 10 fields below, then name, value per header); then the inline body.
const REQUEST_FIXED = 16;

/** The REQUEST fields that do not describe the body (what the gateway builds per request). */
export type RequestFields = Omit<RequestMeta, "bodyLength" | "bodyMode" | "bodyFile">;

/**
 * A REQUEST frame. With BodyMode.INLINE the body (exactly `bodyLength` bytes) is copied
 * in after the metadata: one frame, one write; use it up to a threshold well below
 * MAX_PAYLOAD. With FRAMES follow it with encodeBody()... and encodeBodyEnd().
 * @example encodeRequest(1, meta, Buffer.from("a=1"))
 */
export function encodeRequest(id: number, m: RequestMeta, body: Buffer = EMPTY): Buffer {
  return encodeRequestWith(id, m, m.bodyMode, m.bodyLength, m.bodyFile, body);
}

/**
 * encodeRequest() with the body's fields given apart from the others, so a caller that
 * keeps one RequestFields object per request needs no merged copy of it.
 */
export function encodeRequestWith(
  id: number,
  m: RequestFields,
  bodyMode: BodyMode,
  bodyLength: number,
  bodyFile: string,
  body: Buffer = EMPTY,
): Buffer {
  if (bodyMode === BodyMode.INLINE ? body.length !== bodyLength : body.length !== 0) {
    throw new ProtocolError(
      "BAD_VALUE",
      `REQUEST body of ${body.length} bytes with bodyLength ${bodyLength} in mode ${bodyMode}`,
    );
  }
  if (!Number.isSafeInteger(bodyLength) || bodyLength < 0)
    throw new ProtocolError("BAD_VALUE", `bodyLength ${bodyLength}`);
  if (bodyMode !== BodyMode.FILE && bodyFile !== "")
    throw new ProtocolError("BAD_VALUE", "bodyFile outside BodyMode.FILE");
  const headers = m.headers;
  const nh = headers.length;
  if (nh > MAX_HEADERS)
    throw new ProtocolError("TOO_MANY_HEADERS", `${nh} header fields (max ${MAX_HEADERS})`);
  // Hot path (once per request): the latin-1 strings are concatenated and written with
  // one Buffer.write and checked with one regex; only a failure looks field by field.
  const textA =
    m.method +
    m.urlScheme +
    m.serverProtocol +
    m.target +
    m.path +
    m.query +
    m.scriptName +
    m.remoteAddr +
    m.serverName;
  if (textA.length > MAX_STRING) {
    requestStrings(m).forEach((x, j) => {
      if (x.length > MAX_STRING) latin1Length(x, STR_NAMES[j] as string);
    });
  }
  const fileLen = bodyFile === "" ? 0 : utf8Length(bodyFile, "body file");
  let textB = "";
  for (let i = 0; i < nh; i++) {
    const h = headers[i]!;
    const name = h[0];
    const value = h[1];
    if (name.length > MAX_STRING) latin1Length(name, "header name");
    if (value.length > MAX_STRING) latin1Length(value, "header value");
    textB += name;
    textB += value;
  }
  if (!isLatin1(textA) || !isLatin1(textB)) {
    requestStrings(m).forEach((x, j) => latin1Length(x, STR_NAMES[j] as string));
    for (const [name, value] of headers) {
      latin1Length(name, "header name");
      latin1Length(value, "header value");
    }
  }
  const k = 10 + 2 * nh;
  const size = REQUEST_FIXED + 2 * k + textA.length + fileLen + textB.length + body.length;
  validateHeader(FrameType.REQUEST, id, size);
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(out, 0, FrameType.REQUEST, 0, id, size);
  let off = HEADER_SIZE;
  out[off] = bodyMode;
  out[off + 1] = 0;
  out.writeUInt16BE(port(m.remotePort, "remote port"), off + 2);
  out.writeUInt16BE(port(m.serverPort, "server port"), off + 4);
  out.writeUInt16BE(nh, off + 6);
  out.writeUInt32BE(Math.floor(bodyLength / 0x100000000), off + 8);
  out.writeUInt32BE(bodyLength >>> 0, off + 12);
  off += REQUEST_FIXED;
  // The length table (every length is already known to fit in a u16).
  off = putU16(out, off, m.method.length);
  off = putU16(out, off, m.urlScheme.length);
  off = putU16(out, off, m.serverProtocol.length);
  off = putU16(out, off, m.target.length);
  off = putU16(out, off, m.path.length);
  off = putU16(out, off, m.query.length);
  off = putU16(out, off, m.scriptName.length);
  off = putU16(out, off, m.remoteAddr.length);
  off = putU16(out, off, m.serverName.length);
  off = putU16(out, off, fileLen);
  for (let i = 0; i < nh; i++) {
    const h = headers[i]!;
    off = putU16(out, off, h[0].length);
    off = putU16(out, off, h[1].length);
  }
  off += out.write(textA, off, textA.length, "latin1");
  if (fileLen > 0) off += out.write(bodyFile, off, fileLen, "utf8");
  if (textB.length > 0) off += out.write(textB, off, textB.length, "latin1");
  if (body.length > 0) body.copy(out, off);
  return out;
}

function putU16(buf: Buffer, off: number, v: number): number {
  buf[off] = v >>> 8;
  buf[off + 1] = v & 0xff;
  return off + 2;
}

function requestStrings(m: RequestFields): string[] {
  return [
    m.method,
    m.urlScheme,
    m.serverProtocol,
    m.target,
    m.path,
    m.query,
    m.scriptName,
    m.remoteAddr,
    m.serverName,
  ];
}

// eslint-disable-next-line no-control-regex
const NOT_LATIN1_RE = /[^\u0000-\u00ff]/;
const isLatin1 = (s: string): boolean => !NOT_LATIN1_RE.test(s);

const STR_NAMES = [
  "method",
  "url scheme",
  "server protocol",
  "target",
  "path",
  "query",
  "script name",
  "remote address",
  "server name",
  "body file",
];
const BODY_FILE_AT = 9;

function port(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff)
    throw new ProtocolError("BAD_VALUE", `${what} ${p}`);
  return p;
}

export interface DecodedRequest {
  readonly meta: RequestMeta;
  /** The inline body (a view into the payload); empty unless BodyMode.INLINE. */
  readonly body: Buffer;
}

export function decodeRequest(payload: Buffer): DecodedRequest {
  const r = new FieldReader(payload, "REQUEST");
  const bodyMode = r.u8();
  if (bodyMode > 2) throw new ProtocolError("BAD_VALUE", `REQUEST body mode ${bodyMode}`);
  if (r.u8() !== 0) throw new ProtocolError("BAD_VALUE", "REQUEST reserved byte not 0");
  const remotePort = r.u16();
  const serverPort = r.u16();
  const count = r.u16();
  if (count > MAX_HEADERS)
    throw new ProtocolError("TOO_MANY_HEADERS", `${count} header fields (max ${MAX_HEADERS})`);
  const bodyLength = r.u64("body length");
  const { strs, end } = readTable(payload, r.off, 10 + 2 * count, "REQUEST", BODY_FILE_AT);
  const [
    method,
    urlScheme,
    serverProtocol,
    target,
    path,
    query,
    scriptName,
    remoteAddr,
    serverName,
    bodyFile,
  ] = strs as [string, string, string, string, string, string, string, string, string, string];
  const headers = new Array<[string, string]>(count);
  for (let i = 0; i < count; i++)
    headers[i] = [strs[10 + 2 * i] as string, strs[11 + 2 * i] as string];
  const body = payload.subarray(end);
  if (bodyMode === BodyMode.INLINE ? body.length !== bodyLength : body.length !== 0) {
    throw new ProtocolError(
      "BAD_VALUE",
      `REQUEST carries ${body.length} body bytes, bodyLength ${bodyLength}, mode ${bodyMode}`,
    );
  }
  if ((bodyMode === BodyMode.FILE) !== (bodyFile !== ""))
    throw new ProtocolError("BAD_VALUE", "REQUEST body file and mode disagree");
  const meta: RequestMeta = {
    method,
    urlScheme,
    serverProtocol,
    target,
    path,
    query,
    scriptName,
    remoteAddr,
    remotePort,
    serverName,
    serverPort,
    headers,
    bodyLength,
    bodyMode: bodyMode as BodyMode,
    bodyFile,
  };
  return { meta, body };
}

/**
 * BODY frames for one chunk, without copying it: [header, chunk] (split every MAX_CHUNK
 * bytes). Write them in order, e.g. `for (const b of encodeBody(id, c)) sock.write(b)`.
 */
export function encodeBody(id: number, chunk: Buffer): Buffer[] {
  return chunked(FrameType.BODY, id, chunk);
}

/** RESPONSE_BODY frames for one chunk (worker side; used by tests and golden vectors). */
export function encodeResponseBody(id: number, chunk: Buffer): Buffer[] {
  return chunked(FrameType.RESPONSE_BODY, id, chunk);
}

function chunked(type: FrameType, id: number, chunk: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const piece =
      off === 0 && chunk.length <= MAX_CHUNK ? chunk : chunk.subarray(off, off + MAX_CHUNK);
    out.push(frameHeader(type, id, piece.length), piece);
    off += piece.length;
  } while (off < chunk.length);
  return out;
}

export const encodeBodyEnd = (id: number): Buffer => encodeFrame(FrameType.BODY_END, id);
export const encodeAbort = (id: number): Buffer => encodeFrame(FrameType.ABORT, id);
export const encodeDumpStack = (id: number): Buffer => encodeFrame(FrameType.DUMP_STACK, id);
export const encodeShutdown = (): Buffer => encodeFrame(FrameType.SHUTDOWN, 0);
export const encodeResponseEnd = (id: number): Buffer => encodeFrame(FrameType.RESPONSE_END, id);

/** PING with up to MAX_PING_PAYLOAD opaque bytes; the worker's PONG echoes them. */
export function encodePing(data: Buffer = EMPTY): Buffer {
  return encodeFrame(FrameType.PING, 0, data);
}
export function encodePong(data: Buffer = EMPTY): Buffer {
  if (data.length > MAX_PING_PAYLOAD) throw new ProtocolError("PAYLOAD_TOO_LARGE", "PONG payload");
  return encodeFrame(FrameType.PONG, 0, data);
}

/**
 * FILE_ACK answers RESPONSE_FILE. ok=true: Node has opened the file and will send it, the
 * worker may close it. ok=false: Node could not open it; the worker streams the bytes in
 * RESPONSE_BODY frames instead.
 */
export function encodeFileAck(id: number, ok: boolean): Buffer {
  return encodeFrame(FrameType.FILE_ACK, id, Buffer.from([ok ? 1 : 0]));
}
export function decodeFileAck(payload: Buffer): boolean {
  const v = payload[0];
  if (payload.length !== 1 || (v !== 0 && v !== 1))
    throw new ProtocolError("BAD_VALUE", "FILE_ACK is not 0 or 1");
  return v === 1;
}

// ---- RESPONSE_HEAD: status u16, header count N u16, string table of 1 + 2N entries
// (reason, then name, value per header)

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly headers: HeaderPairs;
}

export function encodeResponseHead(id: number, h: ResponseHead): Buffer {
  if (h.headers.length > MAX_HEADERS)
    throw new ProtocolError("TOO_MANY_HEADERS", `${h.headers.length} header fields`);
  if (!Number.isInteger(h.status) || h.status < 100 || h.status > 999)
    throw new ProtocolError("BAD_VALUE", `status ${h.status}`);
  const strs: string[] = [h.reason];
  for (const [n, v] of h.headers) strs.push(n, v);
  const lens = strs.map((x, i) =>
    latin1Length(x, i === 0 ? "reason" : i % 2 === 1 ? "header name" : "header value"),
  );
  let size = 4 + 2 * strs.length;
  for (const n of lens) size += n;
  validateHeader(FrameType.RESPONSE_HEAD, id, size);
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(out, 0, FrameType.RESPONSE_HEAD, 0, id, size);
  out.writeUInt16BE(h.status, HEADER_SIZE);
  out.writeUInt16BE(h.headers.length, HEADER_SIZE + 2);
  writeTable(out, HEADER_SIZE + 4, strs, lens);
  return out;
}

export function decodeResponseHead(payload: Buffer): {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
} {
  // Hot path (once per response): read straight into the header pairs, no string table.
  const total = payload.length;
  const r = new FieldReader(payload, "RESPONSE_HEAD");
  const status = r.u16();
  if (status < 100 || status > 999)
    throw new ProtocolError("BAD_VALUE", `RESPONSE_HEAD status ${status}`);
  const count = r.u16();
  if (count > MAX_HEADERS)
    throw new ProtocolError("TOO_MANY_HEADERS", `${count} header fields (max ${MAX_HEADERS})`);
  const n = 1 + 2 * count;
  let at = 4 + 2 * n;
  if (at > total)
    throw new ProtocolError("TRUNCATED", "RESPONSE_HEAD ends inside its length table");
  let reason = "";
  let name = "";
  const headers = new Array<[string, string]>(count);
  for (let i = 0; i < n; i++) {
    const len = (payload[4 + 2 * i]! << 8) | payload[5 + 2 * i]!;
    if (at + len > total)
      throw new ProtocolError("TRUNCATED", `RESPONSE_HEAD ends inside string ${i}`);
    const s = len === 0 ? "" : payload.toString("latin1", at, at + len);
    at += len;
    if (i === 0) reason = s;
    else if (i & 1) name = s;
    else headers[(i >> 1) - 1] = [name, s];
  }
  if (at !== total) {
    throw new ProtocolError(
      "TRAILING_BYTES",
      `${total - at} bytes after the last field of RESPONSE_HEAD`,
    );
  }
  return { status, reason, headers };
}

// ---- RESPONSE_FILE: pid u32, fd u32, offset u64, length u64 (24 bytes)

export interface ResponseFile {
  /** The worker's pid: Node opens /proc/<pid>/fd/<fd> (Linux). */
  readonly pid: number;
  readonly fd: number;
  /** First byte to send (the file's position when the app returned it). */
  readonly offset: number;
  /** Bytes to send from offset (file size at hand-off minus offset). */
  readonly length: number;
}

export function encodeResponseFile(id: number, f: ResponseFile): Buffer {
  const p = Buffer.allocUnsafe(24);
  const w = new FieldWriter(p, 0);
  w.u32(f.pid);
  w.u32(f.fd);
  w.u64(f.offset);
  w.u64(f.length);
  return encodeFrame(FrameType.RESPONSE_FILE, id, p);
}

export function decodeResponseFile(payload: Buffer): ResponseFile {
  const r = new FieldReader(payload, "RESPONSE_FILE");
  const f = { pid: r.u32(), fd: r.u32(), offset: r.u64("offset"), length: r.u64("length") };
  r.end();
  return f;
}

// ---- JSON control payloads (UTF-8 JSON object)

/** HELLO: the app imported fine, the worker is ready for REQUESTs. */
export interface Hello {
  readonly protocol: number;
  readonly pid: number;
  /** e.g. "3.11.7" */
  readonly python: string;
  /** The APP_MODULE spec as given. */
  readonly app: string;
  readonly threads: number;
  /** Present and true on a --preload zygote's HELLO (it forks workers, serves nothing). */
  readonly preload?: boolean;
}
/** BOOT_ERROR (then exit non-zero) and APP_ERROR: a one-line reason + the full traceback. */
export interface ErrorReport {
  readonly reason: string;
  readonly traceback: string;
}
/** LOG: a line for narwhal's error log (id 0, or the request it concerns). */
export interface LogRecord {
  readonly level: "debug" | "info" | "warning" | "error" | "critical";
  readonly message: string;
}
/** STACK: answer to DUMP_STACK, the Python stack of the thread serving that request. */
export interface StackReport {
  readonly thread: string;
  /** Formatted like a traceback ("" when no thread serves that request any more). */
  readonly stack: string;
}

function encodeJson(type: FrameType, id: number, obj: object): Buffer {
  const p = Buffer.from(JSON.stringify(obj), "utf8");
  if (p.length > MAX_CONTROL_PAYLOAD)
    throw new ProtocolError("PAYLOAD_TOO_LARGE", "control payload");
  return encodeFrame(type, id, p);
}

export const encodeHello = (h: Hello): Buffer => encodeJson(FrameType.HELLO, 0, h);
export const encodeBootError = (e: ErrorReport): Buffer => encodeJson(FrameType.BOOT_ERROR, 0, e);
export const encodeAppError = (id: number, e: ErrorReport): Buffer =>
  encodeJson(FrameType.APP_ERROR, id, e);
export const encodeLog = (id: number, l: LogRecord): Buffer => encodeJson(FrameType.LOG, id, l);
export const encodeStack = (id: number, s: StackReport): Buffer =>
  encodeJson(FrameType.STACK, id, s);

type Kind = "string" | "number";
function decodeJson(
  payload: Buffer,
  what: string,
  fields: Readonly<Record<string, Kind>>,
): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new ProtocolError("BAD_JSON", `${what} payload is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new ProtocolError("BAD_JSON", `${what} payload is not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const [k, kind] of Object.entries(fields)) {
    if (typeof o[k] !== kind) throw new ProtocolError("BAD_JSON", `${what}.${k} is not a ${kind}`);
  }
  return o;
}

export function decodeHello(payload: Buffer): Hello {
  const o = decodeJson(payload, "HELLO", {
    protocol: "number",
    pid: "number",
    python: "string",
    app: "string",
    threads: "number",
  });
  if (o["protocol"] !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "BAD_VALUE",
      `worker speaks protocol ${String(o["protocol"])}, Node speaks ${PROTOCOL_VERSION}`,
    );
  }
  return o as unknown as Hello;
}
export const decodeBootError = (p: Buffer): ErrorReport =>
  decodeJson(p, "BOOT_ERROR", { reason: "string", traceback: "string" }) as unknown as ErrorReport;
export const decodeAppError = (p: Buffer): ErrorReport =>
  decodeJson(p, "APP_ERROR", { reason: "string", traceback: "string" }) as unknown as ErrorReport;
export const decodeStack = (p: Buffer): StackReport =>
  decodeJson(p, "STACK", { thread: "string", stack: "string" }) as unknown as StackReport;

const LEVELS = new Set(["debug", "info", "warning", "error", "critical"]);
export function decodeLog(p: Buffer): LogRecord {
  const o = decodeJson(p, "LOG", { level: "string", message: "string" });
  if (!LEVELS.has(o["level"] as string))
    throw new ProtocolError("BAD_JSON", `LOG level ${String(o["level"])}`);
  return o as unknown as LogRecord;
}

// ---- --preload: a zygote imports the app once and forks workers on demand (docs/protocol.md)

/** FORK: fork one worker that connects to Node's UNIX socket `connect` and says HELLO there. */
export interface ForkRequest {
  readonly connect: string;
}
/** FORKED: the zygote forked a worker with this pid (its HELLO arrives on the new connection). */
export interface Forked {
  readonly pid: number;
}
/** CHILD_EXIT: a forked worker exited (reaped by the zygote, its parent). */
export interface ChildExit {
  readonly pid: number;
  /** Exit status, or null when killed by a signal. */
  readonly code: number | null;
  /** Signal name ("SIGKILL"), or null. */
  readonly signal: string | null;
}

export const encodeFork = (f: ForkRequest): Buffer => encodeJson(FrameType.FORK, 0, f);
export const encodeForked = (f: Forked): Buffer => encodeJson(FrameType.FORKED, 0, f);
export const encodeChildExit = (c: ChildExit): Buffer => encodeJson(FrameType.CHILD_EXIT, 0, c);

export const decodeFork = (p: Buffer): ForkRequest =>
  decodeJson(p, "FORK", { connect: "string" }) as unknown as ForkRequest;
export const decodeForked = (p: Buffer): Forked =>
  decodeJson(p, "FORKED", { pid: "number" }) as unknown as Forked;
export function decodeChildExit(p: Buffer): ChildExit {
  const o = decodeJson(p, "CHILD_EXIT", { pid: "number" });
  const code = o["code"];
  const signal = o["signal"];
  if (
    (code !== null && typeof code !== "number") ||
    (signal !== null && typeof signal !== "string")
  ) {
    throw new ProtocolError("BAD_JSON", "CHILD_EXIT.code/signal must be a number/string or null");
  }
  return o as unknown as ChildExit;
}
