/**
 * The frame layer of the Node ⇄ Python worker protocol (docs/protocol.md). No I/O here:
 * encoders return Buffers, the decoder eats Buffers. Mirrored by python/narwhal_worker/protocol.py
 * and pinned by the golden vectors in test/fixtures/protocol/.
 *
 * Every frame is a 12-byte header followed by `length` payload bytes:
 *
 *      0        1        2        3        4        5        6        7
 *  +--------+--------+--------+--------+--------+--------+--------+--------+
 *  |  type  | flags  |  reserved (0)   |     request id (u32 big-endian)   |
 *  +--------+--------+--------+--------+--------+--------+--------+--------+
 *  |    payload length (u32 BE)        |  payload ... (length bytes)
 *  +--------+--------+--------+--------+--------+--------+-- - - -
 *      8        9       10       11       12 ...
 *
 * - type: bit 7 clear = sent by Node, bit 7 set = sent by the worker (checked).
 * - flags: no flag is defined in protocol version 1; must be 0.
 * - reserved: must be 0 (a non-zero value means the stream is out of sync).
 * - request id: 0 on connection frames (HELLO, PING, SHUTDOWN...); 1..2^32-1 on request
 *   frames, chosen by Node, unique among the requests in flight on one worker.
 * - payload length: capped per type (see CAPS); checked on the header, before any
 *   payload byte is buffered.
 */
import { ProtocolError } from "./errors.js";

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 12;

/** Largest payload of any frame (REQUEST with an inline body, BODY, RESPONSE_BODY). */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
/** Largest JSON control payload (HELLO, BOOT_ERROR, APP_ERROR, LOG, STACK, FORK...). */
export const MAX_CONTROL_PAYLOAD = 1024 * 1024;
/** Largest PING/PONG payload (opaque bytes echoed back). */
export const MAX_PING_PAYLOAD = 64;
/** Largest chunk a sender puts in one BODY / RESPONSE_BODY frame; bigger chunks are split. */
export const MAX_CHUNK = 1024 * 1024;

export const FrameType = {
  // Node → worker (bit 7 clear)
  REQUEST: 0x01,
  BODY: 0x02,
  BODY_END: 0x03,
  ABORT: 0x04,
  FILE_ACK: 0x05,
  PING: 0x06,
  SHUTDOWN: 0x07,
  DUMP_STACK: 0x08,
  FORK: 0x09,
  // worker → Node (bit 7 set)
  HELLO: 0x81,
  BOOT_ERROR: 0x82,
  PONG: 0x83,
  RESPONSE_HEAD: 0x84,
  RESPONSE_BODY: 0x85,
  RESPONSE_FILE: 0x86,
  RESPONSE_END: 0x87,
  APP_ERROR: 0x88,
  LOG: 0x89,
  STACK: 0x8a,
  FORKED: 0x8b,
  CHILD_EXIT: 0x8c,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

export function frameTypeName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16).padStart(2, "0")}`;
}

/** Which request ids a type may carry: "conn" = only 0, "req" = only non-zero, "any". */
type Scope = "conn" | "req" | "any";
interface Rule {
  readonly scope: Scope;
  readonly min: number;
  readonly max: number;
}
const RULE_LIST: ReadonlyArray<readonly [number, Rule]> = [
  [FrameType.REQUEST, { scope: "req", min: 16, max: MAX_PAYLOAD }],
  [FrameType.BODY, { scope: "req", min: 0, max: MAX_PAYLOAD }],
  [FrameType.BODY_END, { scope: "req", min: 0, max: 0 }],
  [FrameType.ABORT, { scope: "req", min: 0, max: 0 }],
  [FrameType.FILE_ACK, { scope: "req", min: 1, max: 1 }],
  [FrameType.PING, { scope: "conn", min: 0, max: MAX_PING_PAYLOAD }],
  [FrameType.SHUTDOWN, { scope: "conn", min: 0, max: 0 }],
  [FrameType.DUMP_STACK, { scope: "req", min: 0, max: 0 }],
  [FrameType.HELLO, { scope: "conn", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.BOOT_ERROR, { scope: "conn", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.PONG, { scope: "conn", min: 0, max: MAX_PING_PAYLOAD }],
  [FrameType.RESPONSE_HEAD, { scope: "req", min: 6, max: MAX_PAYLOAD }],
  [FrameType.RESPONSE_BODY, { scope: "req", min: 0, max: MAX_PAYLOAD }],
  [FrameType.RESPONSE_FILE, { scope: "req", min: 24, max: 24 }],
  [FrameType.RESPONSE_END, { scope: "req", min: 0, max: 0 }],
  [FrameType.APP_ERROR, { scope: "req", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.LOG, { scope: "any", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.STACK, { scope: "req", min: 2, max: MAX_CONTROL_PAYLOAD }],
  // --preload (docs/protocol.md, "Preload"): the zygote's control channel
  [FrameType.FORK, { scope: "conn", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.FORKED, { scope: "conn", min: 2, max: MAX_CONTROL_PAYLOAD }],
  [FrameType.CHILD_EXIT, { scope: "conn", min: 2, max: MAX_CONTROL_PAYLOAD }],
];
/** The rule of each type byte (undefined = unknown type): one indexed load per frame. */
const RULES: ReadonlyArray<Rule | undefined> = (() => {
  const a = new Array<Rule | undefined>(256).fill(undefined);
  for (const [type, rule] of RULE_LIST) a[type] = rule;
  return a;
})();

export interface Frame {
  readonly type: FrameType;
  readonly flags: number;
  readonly id: number;
  /** A view into the received bytes when possible (no copy); do not keep it mutated. */
  readonly payload: Buffer;
}

/** Which side's frames a decoder accepts: Node decodes "worker" frames, the worker "node". */
export type Sender = "node" | "worker" | "any";

function check(type: number, flags: number, id: number, length: number, from: Sender): Rule {
  const rule = RULES[type];
  if (rule === undefined)
    throw new ProtocolError("UNKNOWN_TYPE", `unknown frame type ${frameTypeName(type)}`);
  // The common case in one test; the names for the messages are looked up only on a fault.
  if (
    flags === 0 &&
    length <= rule.max &&
    length >= rule.min &&
    (id === 0 ? rule.scope !== "req" : rule.scope !== "conn" && id > 0 && id <= 0xffffffff) &&
    Number.isInteger(id) &&
    (from === "any" || (type & 0x80 ? "worker" : "node") === from)
  )
    return rule;
  const name = frameTypeName(type);
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff)
    throw new ProtocolError("BAD_REQUEST_ID", `${name} with request id ${id}`);
  if (from !== "any" && (type & 0x80 ? "worker" : "node") !== from) {
    throw new ProtocolError(
      "BAD_DIRECTION",
      `${name} cannot come from ${from === "node" ? "Node" : "a worker"}`,
    );
  }
  if (flags !== 0)
    throw new ProtocolError("BAD_FLAGS", `${name} with flags 0x${flags.toString(16)}`);
  if (rule.scope === "conn" && id !== 0)
    throw new ProtocolError("BAD_REQUEST_ID", `${name} with request id ${id}`);
  if (rule.scope === "req" && id === 0)
    throw new ProtocolError("BAD_REQUEST_ID", `${name} without request id`);
  if (length > rule.max) {
    throw new ProtocolError(
      rule.max === rule.min ? "BAD_PAYLOAD_LENGTH" : "PAYLOAD_TOO_LARGE",
      `${name} payload of ${length} bytes (max ${rule.max})`,
    );
  }
  if (length < rule.min)
    throw new ProtocolError(
      "BAD_PAYLOAD_LENGTH",
      `${name} payload of ${length} bytes (min ${rule.min})`,
    );
  return rule;
}

/** Throw the ProtocolError a decoder would raise for this header (encoders call it first). */
export function validateHeader(type: FrameType, id: number, length: number, flags = 0): void {
  check(type, flags, id, length, "any");
}

/**
 * The 12 header bytes of a frame whose payload the caller writes itself (no copy of big
 * chunks: `socket.write(frameHeader(...)); socket.write(chunk)` or a writev).
 * @example frameHeader(FrameType.BODY, 7, chunk.length)
 */
export function frameHeader(type: FrameType, id: number, length: number, flags = 0): Buffer {
  check(type, flags, id, length, "any");
  const h = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(h, 0, type, flags, id, length);
  return h;
}

/** Write a header at `offset` of `buf` (already validated by the caller). */
export function writeHeader(
  buf: Buffer,
  offset: number,
  type: number,
  flags: number,
  id: number,
  length: number,
): void {
  buf[offset] = type;
  buf[offset + 1] = flags;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf.writeUInt32BE(id >>> 0, offset + 4);
  buf.writeUInt32BE(length, offset + 8);
}

/**
 * One whole frame (header + a copy of the payload) in a single Buffer.
 * @example encodeFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 1]))
 */
export function encodeFrame(
  type: FrameType,
  id: number,
  payload: Buffer = EMPTY,
  flags = 0,
): Buffer {
  check(type, flags, id, payload.length, "any");
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  writeHeader(out, 0, type, flags, id, payload.length);
  payload.copy(out, HEADER_SIZE);
  return out;
}

export const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Incremental decoder: push() any split of the byte stream, get whole frames back.
 * Header checks (type, direction, flags, reserved, id scope, size cap) run as soon as the
 * 12 header bytes are in, so an oversized frame is rejected before it is buffered.
 * After a ProtocolError the decoder stays failed (every later push throws it again).
 * @example
 * const dec = new FrameDecoder("worker");
 * child.stdio[3].on("data", (b) => { for (const f of dec.push(b)) route(f); });
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: ProtocolError | null = null;

  constructor(private readonly from: Sender = "any") {}

  /** Bytes received but not yet returned as a frame. */
  get pending(): number {
    return this.buffered;
  }

  push(data: Buffer): Frame[] {
    if (this.failed !== null) throw this.failed;
    const out: Frame[] = [];
    try {
      let buf: Buffer;
      if (this.buffered === 0) {
        buf = data;
      } else {
        this.chunks.push(data);
        this.buffered += data.length;
        // Wait without copying until the frame at the front is complete.
        if (!this.frontComplete()) return out;
        buf = Buffer.concat(this.chunks, this.buffered);
        this.chunks = [];
        this.buffered = 0;
      }
      let off = 0;
      while (buf.length - off >= HEADER_SIZE) {
        const length = this.header(buf, off);
        const end = off + HEADER_SIZE + length;
        if (end > buf.length) break;
        out.push({
          type: buf[off] as FrameType,
          flags: buf[off + 1] as number,
          id: buf.readUInt32BE(off + 4),
          payload: length === 0 ? EMPTY : buf.subarray(off + HEADER_SIZE, end),
        });
        off = end;
      }
      if (off < buf.length) {
        const rest = buf.subarray(off);
        this.chunks = [rest];
        this.buffered = rest.length;
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.failed = err;
      throw err;
    }
    return out;
  }

  /** Validate the header at `off`; returns the payload length. */
  private header(buf: Buffer, off: number): number {
    if (buf[off + 2] !== 0 || buf[off + 3] !== 0) {
      throw new ProtocolError(
        "BAD_RESERVED",
        `reserved bytes 0x${buf.readUInt16BE(off + 2).toString(16)}`,
      );
    }
    const length = buf.readUInt32BE(off + 8);
    check(buf[off] as number, buf[off + 1] as number, buf.readUInt32BE(off + 4), length, this.from);
    return length;
  }

  /** Whether the buffered chunks hold at least one whole frame (checks its header once). */
  private frontComplete(): boolean {
    if (this.buffered < HEADER_SIZE) return false;
    let head = this.chunks[0] as Buffer;
    if (head.length < HEADER_SIZE) {
      head = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [head];
    }
    return this.buffered >= HEADER_SIZE + this.header(head, 0);
  }
}
