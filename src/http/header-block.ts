/**
 * Header fields serialised for the wire, as the ResponseWriter needs them: each field
 * checked (token name, no CR/LF/NUL in the value), the framing and connection fields
 * (Transfer-Encoding, Connection, Keep-Alive) dropped as the writer's own, Content-Length
 * taken out as the declared length.
 *
 * A handler that answers many requests with the same fields (the static file cache) can
 * freeze a list once with constantHeaders(): the writer then reuses its serialisation
 * instead of checking and concatenating the fields again for every response.
 */
import type { HeaderList } from "./types.js";
import { lowerName } from "./parser-fields.js";

export interface HeaderBlock {
  /** "Name: value\r\n" for every field the writer passes on. */
  readonly text: string;
  /** The Content-Length given, or -1. */
  readonly declared: number;
  readonly hasServer: boolean;
  readonly hasDate: boolean;
  /** Set for a constantHeaders() list: the block is reused, and so may be `memo`. */
  readonly constant: boolean;
  /** The writer's head built from this constant block (response-writer.ts); null until then. */
  memo: HeadMemo | null;
}

/** A status line + Server + Date + fields, valid while those three are the same strings. */
export interface HeadMemo {
  readonly line: string;
  readonly server: string;
  readonly date: string;
  readonly head: string;
}

// Response splitting guard: names are tokens, values have no CR/LF/NUL.
const BAD_NAME = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
export const BAD_VALUE = /[\r\n\0]/;

/** Names already checked: handlers use a few constant names, so this is usually one lookup. */
const GOOD_NAMES = new Set<string>();

export function validName(name: string): boolean {
  if (GOOD_NAMES.has(name)) return true;
  if (name === "" || BAD_NAME.test(name)) return false;
  if (name.length <= 64) {
    if (GOOD_NAMES.size >= 512) GOOD_NAMES.clear();
    GOOD_NAMES.add(name);
  }
  return true;
}

/** Check and serialise `headers`; throws TypeError on a field that could split the response. */
export function serializeHeaders(headers: HeaderList, constant = false): HeaderBlock {
  let text = "";
  let declared = -1;
  let hasServer = false;
  let hasDate = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!validName(name) || BAD_VALUE.test(value))
      throw new TypeError(`invalid header ${JSON.stringify(name)}`);
    const n = name.length;
    if (n === 14 || n === 17 || n === 10 || n === 6 || n === 4) {
      const lower = lowerName(name);
      // Framing and connection fields are the writer's own (RFC 9112 §6, §9.6).
      if (lower === "transfer-encoding" || lower === "connection" || lower === "keep-alive")
        continue;
      if (lower === "content-length") {
        const v = value.trim();
        if (!/^[0-9]{1,15}$/.test(v))
          throw new TypeError(`invalid Content-Length ${JSON.stringify(value)}`);
        declared = Number(v);
        continue;
      }
      if (lower === "server") hasServer = true;
      else if (lower === "date") hasDate = true;
    }
    text += name + ": " + value + "\r\n";
  }
  return { text, declared, hasServer, hasDate, constant, memo: null };
}

const CONSTANT = new WeakMap<HeaderList, HeaderBlock>();

/**
 * Freeze `headers` (the list and each field) and serialise it once; writeHead() given
 * this very list reuses the result. Throws like writeHead() on an invalid field.
 * @example const h = constantHeaders([["Content-Type", "text/css"], ["Content-Length", "120"]]);
 */
export function constantHeaders(headers: HeaderList): HeaderList {
  const block = serializeHeaders(headers, true); // throws before anything is frozen
  for (const f of headers) Object.freeze(f);
  Object.freeze(headers);
  CONSTANT.set(headers, block);
  return headers;
}

/** The serialisation of `headers`: remembered for a constantHeaders() list, else computed. */
export function headerBlock(headers: HeaderList): HeaderBlock {
  return CONSTANT.get(headers) ?? serializeHeaders(headers);
}
