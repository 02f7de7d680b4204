/**
 * A loaded site: the frozen config plus what lives as long as it does (upstream groups
 * and their pools, open access logs, the small-file cache). A reload builds a new Site
 * and retires the old one once its requests are done.
 */
import type { NginxConfig } from "../config/nginx/index.js";
import type { Logger } from "../core/log.js";
import type { Handler } from "../http/types.js";
import { FileCache } from "../static/index.js";
import { AccessLogs } from "./access-log.js";
import { ErrorLogs } from "./error-log.js";
import { SiteProxy } from "./proxy-options.js";

/** `app_pass NAME` → the WSGI gateway handler of app NAME (issue 6's one-process mode). */
export type AppResolver = (name: string) => Handler | null;

export interface Site {
  readonly config: NginxConfig;
  /** The main error log (the server's). */
  readonly log: Logger;
  /** error_log of the http/server/location levels: errorLogs.for(conf). */
  readonly errorLogs: ErrorLogs;
  readonly proxy: SiteProxy;
  readonly accessLogs: AccessLogs;
  readonly fileCache: FileCache | null;
  readonly apps: AppResolver;
}

export interface SiteOptions {
  readonly apps?: AppResolver;
  /** Keep small files in memory (revalidated by stat); default true. */
  readonly fileCache?: boolean;
}

/** @example const site = createSite(loadNginxConfig("site.conf"), log); */
export function createSite(config: NginxConfig, log: Logger, o: SiteOptions = {}): Site {
  const accessLogs = new AccessLogs(config.logFormats);
  accessLogs.openAll(config);
  const errorLogs = new ErrorLogs(config.main.error_log, log);
  try {
    errorLogs.openAll(config);
  } catch (err) {
    accessLogs.close();
    throw err;
  }
  return {
    config,
    log,
    errorLogs,
    proxy: new SiteProxy(config.upstreams, (conf) => errorLogs.for(conf)),
    accessLogs,
    fileCache: o.fileCache === false ? null : new FileCache({}),
    apps: o.apps ?? (() => null),
  };
}

/** Release what a retired site holds (after its last request). */
export async function closeSite(site: Site): Promise<void> {
  site.accessLogs.close();
  site.errorLogs.close();
  await site.proxy.close();
}
