/**
 * nginx-syntax configuration: public API.
 *
 *   loadNginxConfig(path, { prefix?, globalDirectives?, sources? }) → NginxConfig
 *       Parse (includes with globs), validate against the directive table, merge
 *       http → server → location, freeze. Throws ConfigError with nginx's wording and
 *       "in FILE:LINE".
 *   NginxConfig { main, http, servers, upstreams, logFormats, listenGroups, ... }
 *       Server { listen, serverNames, conf, script, locations, router }
 *       Location { modifier, name, regex, conf: HttpConf (every merged setting), script, locations }
 *   findListenGroup(config.listenGroups, localAddress, localPort, unixPath?) → ListenGroup | null
 *   selectServer(group, normalizeHost(hostHeader) ?? "") → { server, captures }
 *   matchLocation(server.router, uri) → { location, captures, redirect } | null   (src/router)
 *   findNamedLocation(server.router, "@name") → Location | null
 *   normalizeUri(rawPath, { mergeSlashes: server.conf.merge_slashes }) → { uri } | { status: 400, error }
 *       (before matching: the URI that locations, $uri and the file system see)
 *   compileTemplate("$scheme://$host$request_uri") → Template;  evaluate(template, lookup) → string
 *   withCaptures(match.captures, lookup) → a lookup that also answers $0..$9 and named captures
 *   VARIABLES / VARIABLE_PREFIXES / isBuiltinVariable(name): the variables config may use
 *   DIRECTIVES: the directive table (docs/config.md is rendered from it)
 *   runNginxCli(flags) (./cli.js): -t -T -p -e -g -s -V; flags come from
 *       parseArgs(argv).command.nginx (src/config/cli.ts) when argv is in nginx mode
 *
 * Captures ($1..$9, named) come from the last regex that matched (server name,
 * location, rewrite), as in nginx: the pipeline keeps them and feeds `evaluate`.
 */
export { loadNginxConfig, shippedMimeTypesPath } from "./load.js";
export type { LoadOptions } from "./load.js";
export type * from "./model.js";
export { findListenGroup, normalizeHost, selectServer } from "./server-names.js";
export type { ServerChoice } from "./server-names.js";
export {
  compileTemplate,
  evaluate,
  isBuiltinVariable,
  VARIABLE_PREFIXES,
  VARIABLES,
  withCaptures,
} from "./variables.js";
export type { CaptureSet, Template, TemplatePart, VariableLookup } from "./variables.js";
export type { Captures, CompiledRegex } from "./regex.js";
export { DIRECTIVES, lookupDirective } from "./table.js";
export type { Context, DirectiveDecl } from "./directive-types.js";
export { findNamedLocation, matchLocation } from "../../router/match.js";
export type { LocationMatch, RegexCaptures } from "../../router/match.js";
export { normalizeUri } from "../../router/normalize.js";
