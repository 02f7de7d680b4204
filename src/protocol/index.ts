/** The worker protocol codec (no I/O): frames, typed payloads, the one error it throws. */
export * from "./errors.js";
export * from "./frame.js";
export * from "./fields.js";
export * from "./messages.js";
