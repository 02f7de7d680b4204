/**
 * A complete Handler around serveStatic for use without the nginx pipeline (tests,
 * benchmarks, a bare `--static` mode): decodes the path itself and renders outcomes with
 * the writer's built-in error pages.
 */
import type { Logger } from "../core/log.js";
import type { Handler, IncomingRequest, ResponseWriter } from "../http/types.js";
import { serveStatic, type StaticOutcome } from "./handler.js";
import type { StaticOptions } from "./options.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Percent-decode a raw path (characters up to U+00FF are raw bytes, as a latin1 socket
 * decode delivers them) and read the bytes as UTF-8; null when malformed (400). Dot
 * segments are left for resolve.ts to refuse; the nginx pipeline uses the router's
 * normalizeUri instead.
 */
export function decodePath(raw: string): string | null {
  if (!raw.includes("%")) {
    let ascii = true;
    for (let i = 0; i < raw.length; i++) if (raw.charCodeAt(i) > 0x7e) ascii = false;
    if (ascii) return raw;
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const b = parseInt(raw.slice(i + 1, i + 3), 16);
      if (!/^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) return null;
      bytes.push(b);
      i += 2;
    } else if (c > 0xff) {
      return null;
    } else bytes.push(c);
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** Write what an outcome asks for with default (non error_page) rendering. */
export function finishOutcome(res: ResponseWriter, out: StaticOutcome): void {
  if (out.kind === "status") res.sendError(out.status, out.headers);
  else if (out.kind === "redirect") res.sendError(out.status, [["Location", out.location]]);
}

export function staticHandler(opts: StaticOptions, log: Logger): Handler {
  return async (req: IncomingRequest, res: ResponseWriter): Promise<void> => {
    let uri = decodePath(req.path);
    if (uri === null || req.targetForm === "asterisk" || req.targetForm === "authority") {
      res.sendError(400);
      return;
    }
    // An internal redirect re-enters with the new URI, bounded like nginx's 10 cycles.
    for (let i = 0; i < 10; i++) {
      const out = await serveStatic(req, res, uri, opts, log);
      if (out.kind !== "internal") {
        finishOutcome(res, out);
        return;
      }
      uri = out.uri;
    }
    res.sendError(500);
  };
}
