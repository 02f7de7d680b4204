/**
 * --reload (development): notice when a `.py` file under the app's directories changes.
 *
 * Polls modification times rather than using fs.watch: `fs.watch(dir, {recursive:true})`
 * on Linux is emulated in JavaScript on Node 20 (one inotify watch per directory, known
 * to miss files in directories created later), and a poll is bounded and predictable.
 * The scan is bounded too: at most `maxFiles` files, skipping virtualenvs, caches and VCS
 * directories.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const SKIP = new Set([
  ".git",
  ".hg",
  "__pycache__",
  "node_modules",
  ".venv",
  "venv",
  "site-packages",
  ".tox",
  ".mypy_cache",
]);

/** path → mtimeMs of every .py file under `dirs` (bounded by maxFiles). */
export function snapshot(dirs: readonly string[], maxFiles = 20_000): Map<string, number> {
  const out = new Map<string, number>();
  const stack = [...dirs];
  while (stack.length > 0 && out.size < maxFiles) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !e.name.startsWith(".")) stack.push(join(dir, e.name));
      } else if (e.name.endsWith(".py")) {
        const p = join(dir, e.name);
        try {
          out.set(p, statSync(p).mtimeMs);
        } catch {
          // removed while scanning
        }
        if (out.size >= maxFiles) break;
      }
    }
  }
  return out;
}

/** The first path that differs (changed, added or removed), or null. */
export function changed(a: Map<string, number>, b: Map<string, number>): string | null {
  for (const [p, m] of b) if (a.get(p) !== m) return p;
  for (const p of a.keys()) if (!b.has(p)) return p;
  return null;
}

/**
 * Calls `onChange(path)` when a .py file under `dirs` changes; polls every `intervalMs`.
 * Returns a function that stops watching.
 */
export function watchPython(
  dirs: readonly string[],
  onChange: (path: string) => void,
  intervalMs = 1000,
): () => void {
  let last = snapshot(dirs);
  const timer = setInterval(() => {
    const now = snapshot(dirs);
    const path = changed(last, now);
    last = now;
    if (path !== null) onChange(path);
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
