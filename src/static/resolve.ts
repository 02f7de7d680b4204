/**
 * URI → filesystem path for `root` and `alias`, with the traversal guard (pure; no I/O).
 *
 * The URI comes already percent-decoded and dot-normalised by the pipeline (nginx `$uri`),
 * but this module trusts nothing: it refuses NUL, backslashes, `.`/`..` segments and,
 * after mapping, any path that is not inside the jail (the root or alias directory).
 * That last check is what defeats the classic
 * `location /static { alias /app/static/; }` + `/static../secret` escape, which nginx
 * itself maps to `/app/static/../secret`. Symlinks are the I/O side's job (files.ts).
 */
import { resolve as resolvePath } from "node:path";

export interface PathMapping {
  /** `root DIR`: the path is DIR + URI. */
  readonly root: string | null;
  /**
   * `alias DIR` in a location: the location's prefix (`prefix`) is replaced by DIR
   * (`path`). For regex locations the pipeline substitutes captures into `path` and
   * passes the whole URI as `prefix`.
   */
  readonly alias: { readonly prefix: string; readonly path: string } | null;
  /** The directory no request may leave; default: the root, or the alias directory. */
  readonly jail?: string | null;
  /** Serve paths with a segment starting with "." (except `.well-known`, RFC 8615). */
  readonly dotfiles: boolean;
}

export type Resolution =
  | {
      readonly ok: true;
      /** What to open; ends with "/" when the URI does. */
      readonly path: string;
      /** The containment directory, without a trailing slash ("/" only for the root dir). */
      readonly jail: string;
      /** `path` relative to `jail`, "" for the jail itself, never starting with "/". */
      readonly rel: string;
    }
  | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

function refuse(status: 400 | 404, reason: string): Resolution {
  return { ok: false, status, reason };
}

function trimSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 0x2f) end--;
  return p.slice(0, end);
}

/** Collapse repeated slashes; "." and ".." segments make the path invalid (null). */
function cleanPath(p: string): string | null {
  // Fast path: nothing to collapse or refuse (the usual case).
  if (!p.includes("/.") && !p.includes("//") && !p.startsWith(".")) return p;
  const out: string[] = [];
  const segs = p.split("/");
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === "." || s === "..") return null;
    if (s === "" && i !== 0 && i !== segs.length - 1) continue;
    out.push(s);
  }
  return out.join("/");
}

const absolutes = new Map<string, string>();

/** A configured directory made absolute and normalised (memoised: configs are few). */
function absolute(dir: string): string {
  let a = absolutes.get(dir);
  if (a === undefined) {
    // resolve() also normalises "//" and "." but drops a trailing slash, which alias needs.
    a = resolvePath(dir);
    if (dir.endsWith("/") && a !== "/") a += "/";
    if (absolutes.size > 4096) absolutes.clear();
    absolutes.set(dir, a);
  }
  return a;
}

/** True when some segment of the URI is a dotfile other than `.well-known`. */
export function hasDotSegment(uri: string): boolean {
  let i = uri.indexOf("/.");
  while (i >= 0) {
    const end = uri.indexOf("/", i + 1);
    const seg = uri.slice(i + 1, end < 0 ? uri.length : end);
    if (seg !== ".well-known") return true;
    i = uri.indexOf("/.", i + 1);
  }
  return false;
}

/**
 * Map a decoded, normalised URI to a path under `root`/`alias`.
 * @example resolveStaticPath("/a/b.css", { root: "/srv", alias: null, dotfiles: false })
 *   // { ok: true, path: "/srv/a/b.css", jail: "/srv", rel: "a/b.css" }
 */
export function resolveStaticPath(uri: string, m: PathMapping): Resolution {
  // Pure in (uri, m): remembered per mapping (options objects live as long as their config).
  let memo = resolutions.get(m);
  if (memo === undefined) resolutions.set(m, (memo = new Map<string, Resolution>()));
  let r = memo.get(uri);
  if (r === undefined) {
    r = resolveUncached(uri, m);
    if (uri.length <= 1024) {
      if (memo.size >= 1024) memo.clear();
      memo.set(uri, r);
    }
  }
  return r;
}

const resolutions = new WeakMap<PathMapping, Map<string, Resolution>>();

function resolveUncached(uri: string, m: PathMapping): Resolution {
  if (uri.length === 0 || uri.charCodeAt(0) !== 0x2f)
    return refuse(400, "URI does not start with /");
  // NUL truncates C paths; backslash is a separator on other systems (defence in depth).
  if (uri.includes("\0")) return refuse(400, "NUL in URI");
  if (uri.includes("\\")) return refuse(400, "backslash in URI");
  const dotted = uri.includes("/.");
  if (dotted && cleanPath(uri) === null) return refuse(400, "dot segment in URI");
  if (dotted && !m.dotfiles && hasDotSegment(uri)) return refuse(404, "dotfile");

  let raw: string;
  let jail: string;
  if (m.alias !== null) {
    const { prefix, path } = m.alias;
    if (!uri.startsWith(prefix)) return refuse(404, "URI outside the alias prefix");
    raw = absolute(path) + uri.slice(prefix.length);
    jail = trimSlashes(absolute(m.jail ?? path));
  } else if (m.root !== null) {
    const root = trimSlashes(absolute(m.root));
    raw = (root === "/" ? "" : root) + uri;
    jail = trimSlashes(absolute(m.jail ?? root));
  } else {
    return refuse(404, "no root or alias");
  }
  if (raw.includes("\0") || raw.includes("\\"))
    return refuse(400, "invalid character in mapped path");
  const path = cleanPath(raw);
  // `/static../secret` under `alias /app/static/` lands here as /app/static/../secret.
  if (path === null) return refuse(404, "mapped path has a dot segment");
  const bare = trimSlashes(path);
  if (bare === jail) return { ok: true, path, jail, rel: "" };
  const base = jail === "/" ? "/" : jail + "/";
  if (!bare.startsWith(base)) return refuse(404, "mapped path outside the jail");
  const rel = bare.slice(base.length);
  // An alias join can create a dotfile the URI did not show: /static.env → /app/static/.env
  if (
    !m.dotfiles &&
    m.alias !== null &&
    (rel.startsWith(".") || rel.includes("/.")) &&
    hasDotSegment("/" + rel)
  ) {
    return refuse(404, "dotfile");
  }
  return { ok: true, path, jail, rel };
}
