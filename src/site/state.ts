/**
 * Everything the pipeline knows about one request as it moves through nginx's phases:
 * the chosen server and location, the current `$uri`/`$args` (rewrites and internal
 * redirects change them), the captures of the last regex that matched, `set`
 * variables, and the bookkeeping nginx keeps on `ngx_http_request_t` (uri_changes,
 * internal, error_page).
 */
import type {
  Captures,
  HttpConf,
  ListenGroup,
  Location,
  Server,
  VariableLookup,
} from "../config/nginx/index.js";
import type { IncomingRequest } from "../http/types.js";
import type { UpstreamLogVars } from "../proxy/index.js";
import { requestOrigin } from "./origin.js";
import type { Site } from "./site.js";
import type { FilterContext, SiteResponse } from "./response.js";
import { variableLookup } from "./vars.js";

/** nginx's NGX_HTTP_MAX_URI_CHANGES: rewrites + internal redirects per request. */
export const MAX_URI_CHANGES = 10;

const NO_CAPTURES: Captures = Object.freeze({
  numbered: Object.freeze([]),
  named: Object.freeze({}),
});

/**
 * Also what the response filters read (FilterContext): the settings in force, the
 * error_page status and the variables, straight from the state, with no object between.
 */
export class RequestState implements FilterContext {
  server: Server;
  location: Location | null = null;
  /** The settings in force: the location's, an `if` block's, or the server's. */
  conf: HttpConf;
  uri = "";
  args: string;
  /** A rewrite or internal redirect changed the URI (the proxy then builds its own). */
  uriChanged = false;
  /** Internal redirect (try_files, error_page, index, rewrite last): `internal` locations are reachable. */
  internal = false;
  /** URI changes left before nginx's "rewrite or internal redirection cycle" 500. */
  changesLeft = MAX_URI_CHANGES;
  captures: Captures = NO_CAPTURES;
  /** `set` variables; null until the first `set` runs (most requests have none). */
  setVars: Map<string, string> | null = null;
  /** error_page was applied once (recursive_error_pages off). */
  errorPageUsed = false;
  /** Status imposed by error_page on the page it redirected to (null: the target's own). */
  statusOverride: number | null = null;
  upstream: UpstreamLogVars | null = null;
  /** Rewrites that changed the URI without `break` (a location search follows). */
  uriChanges = 0;
  /** $status when no response was written (444). */
  finalStatus: number | null = null;
  /** Request method after an error_page redirect (GET, except HEAD stays). */
  method: string;
  /** The writer wrapper (set as soon as the pipeline starts). */
  res!: SiteResponse;
  /** Built on first use: a request that reads no variable (no script, log or filter) needs none. */
  private vars: VariableLookup | null = null;

  constructor(
    readonly site: Site,
    readonly group: ListenGroup,
    readonly req: IncomingRequest,
    server: Server,
    /** Host as nginx's $host sees it (lower case, port removed), "" when absent or invalid. */
    readonly host: string,
    /** The Host (or absolute-form authority) was invalid: the request is answered 400. */
    readonly badHost = false,
  ) {
    this.server = server;
    this.conf = server.conf;
    this.args = req.query;
    this.method = req.method;
  }

  /** Every nginx variable of this request (see vars.ts). */
  get lookup(): VariableLookup {
    return (this.vars ??= variableLookup(this));
  }

  /** scheme://host[:port] of this request, for absolute redirects. */
  origin(): string {
    return requestOrigin(this);
  }

  setCaptures(c: Captures): void {
    this.captures = c;
  }
}
