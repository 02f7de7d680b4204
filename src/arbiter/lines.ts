/**
 * Splits a worker's stdout/stderr into lines for the error log. Apps print, tracebacks
 * span many lines; a line longer than `maxLine` is cut so one runaway print cannot grow
 * the buffer without bound.
 */
import type { Readable } from "node:stream";

export function forwardLines(
  stream: Readable,
  emit: (line: string) => void,
  maxLine = 16384,
): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      emit(pending.slice(0, nl).replace(/\r$/, ""));
      pending = pending.slice(nl + 1);
    }
    while (pending.length > maxLine) {
      emit(pending.slice(0, maxLine));
      pending = pending.slice(maxLine);
    }
  });
  stream.on("end", () => {
    if (pending !== "") emit(pending);
    pending = "";
  });
  stream.on("error", () => {
    // The worker died; its exit is reported by the arbiter.
  });
}
