/**
 * The static handler's options from the merged settings of a location. Built once per
 * location settings object and reused, except where `root`/`alias`/`index` hold
 * variables (then per request, as nginx evaluates them per request).
 */
import {
  evaluate,
  type HttpConf,
  type Location,
  type VariableLookup,
} from "../config/nginx/index.js";
import {
  staticOptions,
  type FileCache,
  type StaticOptions,
  type SymlinkPolicy,
} from "../static/index.js";
import { expiresPolicy } from "./response.js";

/** Per settings object: whether its options are request-independent, and those options by location. */
interface PerConf {
  readonly constant: boolean;
  readonly byLocation: WeakMap<object, StaticOptions>;
}
const cache = new WeakMap<HttpConf, PerConf>();
const NO_LOCATION = {};

/**
 * narwhal never follows a link out of root/alias by default: nginx's `off` (its default)
 * keeps links inside the tree ("inside"); `on` and `if_not_owner` refuse links.
 */
function symlinkPolicy(conf: HttpConf): SymlinkPolicy {
  return conf.disable_symlinks.mode === "off" ? "inside" : "refuse";
}

function isConstant(conf: HttpConf): boolean {
  return conf.root.path.constant && conf.index.every((t) => t.constant);
}

function build(
  conf: HttpConf,
  location: Location | null,
  lookup: VariableLookup,
  uri: string,
  fileCache: FileCache | null,
): StaticOptions {
  const path = evaluate(conf.root.path, lookup);
  let root: string | null = null;
  let alias: StaticOptions["alias"] = null;
  if (conf.root.alias && location !== null) {
    // A regex location's alias is the whole file path (captures substituted): it replaces the whole URI.
    alias = location.regex !== null ? { prefix: uri, path } : { prefix: location.name, path };
  } else root = path;
  const types = conf.types;
  return staticOptions({
    root,
    alias,
    index: conf.index.map((t) => evaluate(t, lookup)),
    indexMode: "internal",
    autoindex: conf.autoindex,
    etag: conf.etag,
    ifModifiedSince: conf.if_modified_since,
    maxRanges: conf.max_ranges,
    types: (ext) => types[ext] ?? null,
    defaultType: conf.default_type,
    charset: conf.charset,
    charsetTypes: conf.charset_types.includes("*") ? "*" : new Set(conf.charset_types),
    gzip: {
      enabled: conf.gzip,
      types: conf.gzip_types.includes("*") ? "*" : new Set(conf.gzip_types),
      minLength: conf.gzip_min_length,
      level: conf.gzip_comp_level,
      vary: conf.gzip_vary,
      httpVersion: conf.gzip_http_version,
    },
    gzipStatic: conf.gzip_static,
    expires: expiresPolicy(conf.expires),
    symlinks: symlinkPolicy(conf),
    dotfiles: conf.dotfiles,
    logNotFound: conf.log_not_found,
    addHeaders: null,
    cache: fileCache,
  });
}

/**
 * @example serveStatic(req, res, st.uri, staticOptionsFor(st.conf, st.location, lookup, st.uri, cache), log)
 */
export function staticOptionsFor(
  conf: HttpConf,
  location: Location | null,
  lookup: VariableLookup,
  uri: string,
  fileCache: FileCache | null,
): StaticOptions {
  let per = cache.get(conf);
  if (per === undefined) {
    per = { constant: isConstant(conf), byLocation: new WeakMap() };
    cache.set(conf, per);
  }
  const regexAlias = conf.root.alias && location?.regex != null;
  if (!per.constant || regexAlias) return build(conf, location, lookup, uri, fileCache);
  const key = location ?? NO_LOCATION;
  let o = per.byLocation.get(key);
  if (o === undefined) per.byLocation.set(key, (o = build(conf, location, lookup, uri, fileCache)));
  return o;
}
