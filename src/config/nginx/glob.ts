/**
 * The subset of glob(3) that nginx's `include` uses: `*`, `?` and `[...]` in any path
 * segment, matches sorted, names starting with "." matched only by a pattern that starts
 * with ".". Node 20 has no fs.glob, hence this.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

export function hasGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function segmentRegex(seg: string): RegExp {
  let re = "^";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = seg.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = seg.slice(i + 1, close);
      if (body.startsWith("!")) body = "^" + body.slice(1);
      re += "[" + body.replace(/\\/g, "\\\\") + "]";
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(re + "$");
}

/** Absolute pattern → sorted absolute paths that exist (files or directories). */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split("/");
  let bases: string[] = [parts[0] === "" ? "/" : parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === "") continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!hasGlob(seg)) {
        next.push(join(base, seg));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const n of names.sort()) {
        if (n.startsWith(".") && !seg.startsWith(".")) continue;
        if (re.test(n)) next.push(join(base, n));
      }
    }
    bases = next;
  }
  return bases.sort();
}
