/**
 * A complete Handler around serveStatic for use without the nginx pipeline (tests,
 * benchmarks, a bare `--static` mode): decodes the path itself and renders outcomes with
 * the writer's built-in error pages.
 */
import type { Logger } from "../core/log.js";
import type { Handler, IncomingRequest, ResponseWriter } from "../http/types.js";
import { serveStatic, type StaticOutcome } from "./handler.js";
import type { StaticOptions } from "./options.js";

/**
 * Percent-decode a raw path; null when malformed (400). Dot segments are left for
 * resolve.ts to refuse; the nginx pipeline uses the router's normalizeUri instead.
 */
export function decodePath(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
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
