/**
 * RESPONSE_HEAD payloads prepared once. An app answers most requests with the same
 * status and fields, so the head decoded from the same payload bytes is reused: decoded,
 * trimmed (RFC 9110 §5.5) and checked once, its field list frozen with constantHeaders()
 * so that the writer reuses its serialisation too. The list with a Content-Length added
 * (a one-chunk body) is kept for a few lengths as well. A payload not seen recently is
 * decoded and checked as every payload was before; one whose fields the writer would
 * refuse is not kept, so writeHead() refuses it at the same moment as without the cache.
 */
import { constantHeaders } from "../http/header-block.js";
import type { HeaderList } from "../http/types.js";
import { decodeResponseHead } from "../protocol/index.js";

const TRIM = /^[ \t]+|[ \t]+$/g;

/** Distinct recent payloads kept (compared byte for byte; replaced round-robin). */
const SLOTS = 8;
/** Payloads longer than this are not kept (a cookie-laden head rarely repeats). */
const MAX_BYTES = 2048;
/** Content-Length variants kept per head. */
const MAX_LENGTHS = 8;

export class PreparedHead {
  /** Content-Length variants of a kept head; null when the head is decoded for one response. */
  private lengths: Map<number, HeaderList> | null;

  constructor(
    readonly status: number,
    readonly reason: string,
    /** Trimmed; frozen by constantHeaders() when the head is kept. */
    readonly headers: HeaderList,
    /** The app gave a Content-Length itself. */
    readonly hasLength: boolean,
    kept: boolean,
  ) {
    this.lengths = kept ? new Map() : null;
  }

  /** The fields with `Content-Length: n` added at the end. */
  withLength(n: number): HeaderList {
    const m = this.lengths;
    let l = m?.get(n);
    if (l !== undefined) return l;
    l = [...this.headers, ["Content-Length", String(n)]];
    if (m !== null && m.size < MAX_LENGTHS) m.set(n, constantHeaders(l));
    return l;
  }
}

interface Slot {
  readonly bytes: Buffer;
  readonly head: PreparedHead;
}

const slots: Slot[] = [];
let next = 0;

/** The head of a RESPONSE_HEAD payload (throws ProtocolError like decodeResponseHead). */
export function prepareHead(payload: Buffer): PreparedHead {
  const n = payload.length;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.bytes.length === n && s.bytes.equals(payload)) return s.head;
  }
  const h = decodeResponseHead(payload);
  const headers = padded(h.headers)
    ? h.headers.map(([name, v]): [string, string] => [name, v.replace(TRIM, "")])
    : h.headers;
  const hasLength = hasContentLength(headers);
  if (n > MAX_BYTES) return new PreparedHead(h.status, h.reason, headers, hasLength, false);
  try {
    constantHeaders(headers);
  } catch {
    // Refused by the writer when the response goes out, as before; not kept.
    return new PreparedHead(h.status, h.reason, headers, hasLength, false);
  }
  const head = new PreparedHead(h.status, h.reason, headers, hasLength, true);
  const slot = { bytes: Buffer.from(payload), head };
  if (slots.length < SLOTS) slots.push(slot);
  else {
    slots[next] = slot;
    next = (next + 1) % SLOTS;
  }
  return head;
}

/** Whether a header value has surrounding SP/HTAB (rare: checked without a regex or closure). */
function padded(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) {
    const v = headers[i]![1];
    const n = v.length;
    if (n === 0) continue;
    const a = v.charCodeAt(0);
    const z = v.charCodeAt(n - 1);
    if (a === 32 || a === 9 || z === 32 || z === 9) return true;
  }
  return false;
}

function hasContentLength(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) {
    const n = headers[i]![0];
    if (n.length === 14 && n.toLowerCase() === "content-length") return true;
  }
  return false;
}
