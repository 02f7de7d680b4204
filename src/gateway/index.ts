/** The WSGI gateway's public face: an HTTP Handler that serves requests from a worker pool. */
export { createWsgiHandler, type GatewayOptions, type WorkerPool } from "./handler.js";
export type { GatewayOutcome, GatewayRecord } from "./exchange.js";
export { disposeBody, spoolBody, type SpooledBody, type SpoolOptions } from "./body-spool.js";
export { requestMeta } from "./request-meta.js";
