/** The static file handler's public surface. */
export { serveStatic, serveStaticNow, type StaticOutcome } from "./handler.js";
export { staticOptions, type StaticOptions } from "./options.js";
export { resolveStaticPath, type PathMapping, type Resolution } from "./resolve.js";
export { probeStatic } from "./probe.js";
export { FileCache, type FileCacheOptions } from "./cache.js";
export { expiresHeaders, type ExpiresPolicy } from "./expires.js";
export { GZIP_OFF, type GzipPolicy } from "./gzip.js";
export { mimeDbLookup, mimeDbTypes, DEFAULT_CHARSET_TYPES } from "./mime.js";
export { staticHandler, finishOutcome, decodePath } from "./standalone.js";
export type { SymlinkPolicy } from "./files.js";
