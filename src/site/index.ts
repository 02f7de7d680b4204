/**
 * nginx mode: the per-request pipeline and the listeners built from an nginx-syntax
 * config (issue 5, and issue 6's proxy and one-process seams).
 *
 *   const server = await SiteServer.start(loadNginxConfig(path), log, { apps });
 *   server.addresses();                            // bound sockets
 *   await server.reload(loadNginxConfig(path));    // throws → the old config stays
 *   server.reopenLogs();  await server.stop(graceMs);
 *
 *   siteHandler(() => site, groupKey) → Handler    (one listener's handler)
 *   createSite(config, log, { apps?, fileCache? }) → Site
 *   variableLookup(state) → VariableLookup         (every nginx variable of a request)
 *
 * Files, one job each: pipeline.ts (the phases), state.ts (one request's state),
 * script.ts (rewrite module), vars.ts (variables), response.ts (header filters:
 * add_header, expires, absolute Location), origin.ts (scheme://host:port for them),
 * access.ts (allow/deny), request-view.ts (method after error_page, body cap),
 * static-options.ts / proxy-options.ts (model → handler options), access-log.ts
 * (log_format), error-log.ts (error_log per level), listeners.ts (listen groups →
 * sockets and limits), server.ts (running and reloading), site.ts (what lives as long
 * as one config).
 *
 * Where narwhal differs from nginx here: one process (no workers; reload swaps the
 * config in place); `disable_symlinks off` still keeps links inside root/alias;
 * only the first `error_log` of a level is used; `listen ... backlog=` uses
 * the server's one backlog; `keepalive_timeout`'s second value is not sent (the
 * writer owns Keep-Alive).
 */
export { SiteServer } from "./server.js";
export { siteHandler } from "./pipeline.js";
export { createSite, closeSite, type Site, type SiteOptions, type AppResolver } from "./site.js";
export { listenPlan, limitsFor, serverTokens, type ListenPlan } from "./listeners.js";
export { variableLookup, argValue } from "./vars.js";
export { formatLine, escapeDefault, escapeJson, AccessLogs } from "./access-log.js";
export { runScript, type ScriptResult } from "./script.js";
export { RequestState, MAX_URI_CHANGES } from "./state.js";
