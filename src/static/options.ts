/**
 * What the static handler needs from the configuration, one field per nginx directive
 * (the pipeline builds this from the merged location; tools use staticOptions()).
 */
import type { HeaderList } from "../http/types.js";
import type { FileCache } from "./cache.js";
import type { IfModifiedSinceMode } from "./conditional.js";
import type { ExpiresPolicy } from "./expires.js";
import type { SymlinkPolicy } from "./files.js";
import { GZIP_OFF, type GzipPolicy } from "./gzip.js";
import { DEFAULT_CHARSET_TYPES, mimeDbLookup } from "./mime.js";

export interface StaticOptions {
  /** `root` (absolute, variables already evaluated). */
  readonly root: string | null;
  /** `alias` and the location prefix it replaces. Wins over `root`. */
  readonly alias: { readonly prefix: string; readonly path: string } | null;
  /** Containment directory override (default: root or alias directory). */
  readonly jail: string | null;
  /** `index` file names, in order; an absolute one ("/x.html") is used as is. */
  readonly index: readonly string[];
  /**
   * How a found index file is served: "internal" returns an `internal` outcome so the
   * pipeline re-runs location matching on the new URI, as nginx's index module does;
   * "serve" serves it right away with these options.
   */
  readonly indexMode: "serve" | "internal";
  /** `autoindex` */
  readonly autoindex: boolean;
  /** `etag` */
  readonly etag: boolean;
  /** `if_modified_since` */
  readonly ifModifiedSince: IfModifiedSinceMode;
  /** `max_ranges`: null unlimited, 0 disables ranges. */
  readonly maxRanges: number | null;
  /** `types {}` / `include mime.types`: extension (lower case, no dot) → type. */
  readonly types: (ext: string) => string | null;
  /** `default_type` */
  readonly defaultType: string;
  /** `charset` (null = `off`) */
  readonly charset: string | null;
  /** `charset_types` */
  readonly charsetTypes: ReadonlySet<string> | "*";
  /** `gzip`, `gzip_types`, `gzip_min_length`, `gzip_comp_level`, `gzip_vary`, `gzip_http_version` */
  readonly gzip: GzipPolicy;
  /** `gzip_static` */
  readonly gzipStatic: "off" | "on" | "always";
  /** `expires` */
  readonly expires: ExpiresPolicy;
  /** `disable_symlinks`: off → "follow", on → "refuse"; absent → "inside" (narwhal's safe default). */
  readonly symlinks: SymlinkPolicy;
  /** narwhal's own: serve path segments starting with "." (`.well-known` always is). */
  readonly dotfiles: boolean;
  /** `log_not_found` */
  readonly logNotFound: boolean;
  /** `add_header` evaluated by the pipeline for a status (it applies `always` itself). */
  readonly addHeaders: ((status: number) => HeaderList) | null;
  /** The shared small-file cache; null disables caching. */
  readonly cache: FileCache | null;
}

/** Defaults as nginx's (with the shipped nginx.conf's `default_type`), safe where nginx is not. */
export function staticOptions(over: Partial<StaticOptions> = {}): StaticOptions {
  return {
    root: null,
    alias: null,
    jail: null,
    index: ["index.html"],
    indexMode: "serve",
    autoindex: false,
    etag: true,
    ifModifiedSince: "exact",
    maxRanges: null,
    types: mimeDbLookup,
    defaultType: "application/octet-stream",
    charset: null,
    charsetTypes: DEFAULT_CHARSET_TYPES,
    gzip: GZIP_OFF,
    gzipStatic: "off",
    expires: { kind: "off" },
    symlinks: "inside",
    dotfiles: false,
    logNotFound: true,
    addHeaders: null,
    cache: null,
    ...over,
  };
}
