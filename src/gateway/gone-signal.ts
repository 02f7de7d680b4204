/**
 * The part of AbortSignal that the arbiter's queue uses (aborted, reason, one "abort"
 * listener), without an AbortController + EventTarget per request: once the pool is
 * saturated every request waits in the queue, and those cost ~6 % of the master's CPU.
 */
export class GoneSignal {
  aborted = false;
  reason: unknown = undefined;
  private listener: (() => void) | null = null;

  addEventListener(_type: "abort", fn: () => void): void {
    this.listener = fn;
  }

  removeEventListener(_type: "abort", fn: () => void): void {
    if (this.listener === fn) this.listener = null;
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const fn = this.listener;
    this.listener = null;
    fn?.();
  }

  /** Typed as what WorkerPool.dispatch() takes; it reads only the members above. */
  asAbortSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
