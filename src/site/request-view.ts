/**
 * Views of the client's request as a content handler should see it at this point of
 * the pipeline, without copying it:
 *
 * - after an `error_page` internal redirect the method is GET (HEAD stays HEAD) and the
 *   conditional and range fields no longer apply (nginx's not_modified and range
 *   filters skip a page that carries an error status);
 * - the body is capped at the location's `client_max_body_size` as it is read (a
 *   chunked body declares no length up front): past it, reading throws 413.
 */
import { HttpError } from "../core/errors.js";
import type { HeaderList, IncomingRequest, RequestBody } from "../http/types.js";

const CONDITIONAL = new Set([
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "range",
]);

class LimitedBody implements RequestBody {
  constructor(
    private readonly inner: RequestBody,
    private readonly max: number,
  ) {}
  get empty(): boolean {
    return this.inner.empty;
  }
  get trailers(): HeaderList {
    return this.inner.trailers;
  }
  get bytesRead(): number {
    return this.inner.bytesRead;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    let n = 0;
    for await (const chunk of this.inner) {
      n += chunk.length;
      if (n > this.max)
        throw new HttpError(
          "BODY_TOO_LARGE",
          413,
          `client intended to send too large chunked body: ${n}+ bytes`,
        );
      yield chunk;
    }
  }
}

/**
 * `method`: the method to present (error_page redirects), null keeps the client's;
 * `maxBody`: client_max_body_size in bytes, 0 = unlimited. Returns `req` itself when
 * nothing changes (the common case: no object per request).
 *
 * @example const r = requestView(req, "GET", 1 << 20);
 */
export function requestView(
  req: IncomingRequest,
  method: string | null,
  maxBody: number,
): IncomingRequest {
  const changeMethod = method !== null && method !== req.method;
  const limitBody =
    maxBody > 0 && !req.body.empty && (req.contentLength === null || req.contentLength > maxBody);
  if (!changeMethod && !limitBody) return req;
  const view = Object.create(req) as IncomingRequest & Record<string, unknown>;
  if (changeMethod) {
    const headers = req.headers.filter(([n]) => !CONDITIONAL.has(n.toLowerCase()));
    Object.defineProperty(view, "method", { value: method });
    Object.defineProperty(view, "headers", { value: headers });
    Object.defineProperty(view, "header", {
      value: (name: string): string | null =>
        CONDITIONAL.has(name.toLowerCase()) ? null : req.header(name),
    });
  }
  if (limitBody) Object.defineProperty(view, "body", { value: new LimitedBody(req.body, maxBody) });
  return view;
}
