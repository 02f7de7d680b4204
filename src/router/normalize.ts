/**
 * `$uri` from the raw request path, as nginx computes it (ngx_http_parse_complex_uri in
 * src/http/ngx_http_parse.c). SECURITY-CRITICAL: the static file handler maps this
 * string onto the filesystem, so everything that could climb out of a root is settled
 * here, once:
 *
 * - percent-escapes are decoded once; a decoded "/" or "." takes part in segment
 *   resolution exactly like a literal one (nginx re-dispatches the decoded byte), so
 *   `%2e%2e`, `..%2f` and `%2F` cannot smuggle a traversal past this function; a
 *   decoded "%" is literal, so `%252e` stays the three characters "%2e";
 * - `%` not followed by two hex digits → 400 (nginx: NGX_HTTP_PARSE_INVALID_REQUEST);
 * - a decoded NUL → 400 (it would truncate a C path);
 * - "." segments vanish, ".." removes the previous segment, and a ".." that would climb
 *   above "/" → 400;
 * - with merge_slashes (nginx's default) runs of "/" become one;
 * - the decoded bytes must be UTF-8 (narwhal's choice: file names are handled as
 *   JavaScript strings); otherwise 400.
 *
 * Characters of `rawPath` above U+00FF are taken as already-decoded text (UTF-8
 * encoded); characters up to U+00FF are taken as raw bytes, as a latin1 socket decode
 * delivers them.
 */

export interface NormalizeOptions {
  readonly mergeSlashes: boolean;
}

export type NormalizeResult =
  { readonly uri: string } | { readonly status: 400; readonly error: string };

const HEX = /^[0-9a-fA-F]{2}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * @example
 *   normalizeUri("/static/../x", { mergeSlashes: true })   // { uri: "/x" }
 *   normalizeUri("/%2e%2e/etc", { mergeSlashes: true })    // { status: 400, ... }
 */
export function normalizeUri(rawPath: string, opts: NormalizeOptions): NormalizeResult {
  if (!rawPath.startsWith("/")) return bad("the path does not start with /");
  // 1. Decode to bytes; remember which "%" came from an escape so it stays literal.
  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return bad("malformed percent-escape");
      const b = parseInt(hex, 16);
      if (b === 0) return bad("NUL byte in the path");
      bytes.push(b);
      i += 2;
      continue;
    }
    if (c === 0) return bad("NUL byte in the path");
    if (c <= 0xff) bytes.push(c);
    else
      for (const b of Buffer.from(
        rawPath[i]! + (isHighSurrogate(c) ? (rawPath[++i] ?? "") : ""),
        "utf8",
      ))
        bytes.push(b);
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return bad("the decoded path is not UTF-8");
  }
  // 2. Resolve segments.
  const segs = decoded.split("/");
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    if (seg === ".") {
      if (last) out.push("");
      continue;
    }
    if (seg === "..") {
      if (out.length === 0) return bad('".." climbs above the root');
      out.pop();
      if (last) out.push("");
      continue;
    }
    if (seg === "" && !last && opts.mergeSlashes) continue;
    out.push(seg);
  }
  return { uri: "/" + out.join("/") };
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function bad(error: string): NormalizeResult {
  return { status: 400, error };
}
