/** What serveStatic tells the pipeline, and the small constructors for it. */
import type { HeaderList } from "../http/types.js";

export type StaticOutcome =
  /** A response was written (200, 206, 304). */
  | { readonly kind: "sent"; readonly status: number }
  /** Nothing written: the pipeline must answer `status` (error_page applies) with `headers`. */
  | {
      readonly kind: "status";
      readonly status: 400 | 403 | 404 | 405 | 412 | 416 | 500;
      readonly headers: HeaderList;
    }
  /** Directory without its slash: answer 301 with this (relative) Location; absolute_redirect is the pipeline's. */
  | { readonly kind: "redirect"; readonly status: 301; readonly location: string }
  /** An index file exists: internal redirect to this URI (indexMode "internal"). */
  | { readonly kind: "internal"; readonly uri: string };

export type ErrorStatus = 400 | 403 | 404 | 405 | 412 | 416 | 500;
/** Internal steps answer synchronously when they can (the cached hot path allocates no promise). */
export type Step = StaticOutcome | Promise<StaticOutcome>;

const SENT: Readonly<Record<number, StaticOutcome>> = {
  200: { kind: "sent", status: 200 },
  206: { kind: "sent", status: 206 },
  304: { kind: "sent", status: 304 },
};
export function sent(st: 200 | 206 | 304): StaticOutcome {
  return SENT[st]!;
}

export function status(s: ErrorStatus, headers: HeaderList = []): StaticOutcome {
  return { kind: "status", status: s, headers };
}
