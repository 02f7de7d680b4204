/**
 * try_files support: does `uri` name an existing file (or, with `dir`, directory) under the
 * location's root/alias, by the same rules (traversal guard, dotfiles, symlinks) that
 * serving would apply? nginx's ngx_http_try_files_handler tests with open_cached_file.
 */
import { closeQuietly, openContained } from "./files.js";
import type { StaticOptions } from "./options.js";
import { resolveStaticPath } from "./resolve.js";

/**
 * @example if (probeStatic("/app.js", opts, false)) { uri = "/app.js"; }  // try_files $uri ...
 */
export function probeStatic(uri: string, opts: StaticOptions, dir: boolean): boolean {
  const r = resolveStaticPath(uri, opts);
  if (!r.ok) return false;
  const o = openContained(r.path, r.jail, r.rel, opts.symlinks);
  if (o.kind === "file") {
    closeQuietly(o.file.fd);
    return !dir;
  }
  return o.kind === "dir" && dir;
}
