/**
 * The reverse proxy: what the request pipeline and main.ts use. The config layer builds
 * plain option objects (types.ts); one UpstreamClients and one UpstreamGroup per
 * `upstream` block live for the life of the process (their health state is shared by
 * every location that proxies to them).
 *
 * @example
 *   const clients = new UpstreamClients();
 *   const groups = new Map([["app", new UpstreamGroup(spec)]]);
 *   const h = new ProxyHandler({ ...PROXY_DEFAULTS, pass: "http://app" }, { clients, upstreams: groups, log }, "/");
 *   const out = await h.handle(req, res, ctx);
 *   if (!out.handled) res.sendError(out.status);   // or the location's error_page
 */
export {
  ProxyHandler,
  proxyRequest,
  createProxyHandler,
  endpointOf,
  type ProxyDeps,
} from "./handler.js";
export { UpstreamClients } from "./client.js";
export { UpstreamFailure, type FailureKind } from "./failure.js";
export { UpstreamGroup, Selection, type GroupClock, type ReleaseState } from "./upstream.js";
export { Peer } from "./peer.js";
export { parsePassUrl, upstreamUri, escapeUri, PassUrlError, type PassTarget } from "./pass.js";
export { RedirectRewriter, type DefaultRedirect } from "./redirect.js";
export {
  DEFAULT_SET_HEADERS,
  DEFAULT_HIDDEN,
  addXForwardedFor,
  buildUpstreamRequestHead,
  buildClientResponseHeaders,
  effectiveSetHeaders,
  hiddenSet,
} from "./headers.js";
export { HOP_BY_HOP, stripHopByHop, connectionTokens } from "./hop-by-hop.js";
export {
  realIp,
  realIpOf,
  parseCidr,
  cidrMatch,
  type Cidr,
  type RealIpOptions,
} from "./real-ip.js";
export * from "./types.js";
