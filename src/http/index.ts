/** The HTTP/1.1 front end's public surface (see docs/http.md). */
export {
  HttpServer,
  Listener,
  type HttpServerOptions,
  type ListenerOptions,
  type ListenerAddress,
} from "./server.js";
export {
  DEFAULT_LIMITS,
  limitsFromSettings,
  normalizeRequestLimits,
  type HttpLimits,
  type HeaderMapPolicy,
} from "./limits.js";
export { RequestParser, type ParsedHead, type ParseEvent } from "./parser.js";
export type { ProxyInfo } from "./parser-proxy.js";
export { ipMatcher, type IpMatcher } from "./ip-allow.js";
export { parseBind, type BindAddress } from "./bind.js";
export { errorPage } from "./error-page.js";
export { constantHeaders } from "./header-block.js";
export { httpDate } from "./date-cache.js";
export type * from "./types.js";
