/**
 * --user / --group / --umask values, resolved the way Gunicorn resolves them
 * (gunicorn/util.py `get_uid`, `get_gid`; config.py `validate_pos_int` for the umask):
 * a numeric id or a name looked up in /etc/passwd and /etc/group.
 */
import { readFileSync } from "node:fs";
import { NarwhalError } from "../core/errors.js";

function lookup(file: string, name: string): string[] | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return f;
  }
  return null;
}

/** uid and primary gid of a user given by name or number. */
export function resolveUser(user: string): { uid: number; gid: number | null } {
  if (/^\d+$/.test(user)) {
    const uid = Number(user);
    return { uid, gid: null };
  }
  const f = lookup("/etc/passwd", user);
  if (f === null || f[2] === undefined || f[3] === undefined)
    throw new NarwhalError("CONFIG", `--user: no such user: ${user}`, null);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const f = lookup("/etc/group", group);
  if (f === null || f[2] === undefined)
    throw new NarwhalError("CONFIG", `--group: no such group: ${group}`, null);
  return Number(f[2]);
}

/**
 * The --umask value: `022`/`0o22` octal, `0x12` hex, else decimal (Gunicorn reads it with
 * Python's int(value, 0), and its docs write it as octal).
 * @example parseUmask("022") // 18
 */
export function parseUmask(v: string): number {
  const s = v.trim().toLowerCase();
  let n: number;
  if (/^0o?[0-7]+$/.test(s)) n = parseInt(s.replace(/^0o?/, "") || "0", 8);
  else if (/^0x[0-9a-f]+$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^\d+$/.test(s)) n = Number(s);
  else throw new NarwhalError("CONFIG", `--umask: not a number: ${JSON.stringify(v)}`, null);
  if (n > 0o777) throw new NarwhalError("CONFIG", `--umask: out of range: ${v}`, null);
  return n;
}
