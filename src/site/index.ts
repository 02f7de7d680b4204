/**
 * nginx mode: the per-request pipeline and the listeners built from an nginx-syntax
 * config.
 *
 *   const server = await SiteServer.start(loadNginxConfig(path), log, { apps });
 *   server.addresses();            // bound sockets
 *   await server.reload(loadNginxConfig(path));   // throws → old config stays
 *   server.reopenLogs();  await server.stop(graceMs);
 *
 *   siteHandler(() => site, groupKey) → Handler   (one listener's handler)
 *   createSite(config, log, { apps?, fileCache? }) → Site
 *   variableLookup(state) → VariableLookup        (every nginx variable)
 */
export { SiteServer } from "./server.js";
export { siteHandler } from "./pipeline.js";
export { createSite, closeSite, type Site, type SiteOptions, type AppResolver } from "./site.js";
export { listenPlan, limitsFor, serverTokens, type ListenPlan } from "./listeners.js";
export { variableLookup, argValue } from "./vars.js";
export { formatLine, escapeDefault, escapeJson, AccessLogs } from "./access-log.js";
export { runScript, type ScriptResult } from "./script.js";
export { RequestState, MAX_URI_CHANGES } from "./state.js";
