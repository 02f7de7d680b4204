/**
 * Which Python runs the workers: `--python PATH`, else `$VIRTUAL_ENV/bin/python` (an
 * activated virtualenv, as Gunicorn installed in it would use), else `python3` on PATH.
 * A name without a slash is looked up on PATH like a shell would.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { NarwhalError } from "../core/errors.js";

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function searchPath(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/**
 * The interpreter to spawn, or a NarwhalError (WORKER_BOOT, no HTTP status) whose message
 * is the one line printed before exiting.
 * @example findPython(null, { VIRTUAL_ENV: "/srv/app/.venv" }) // "/srv/app/.venv/bin/python"
 */
export function findPython(explicit: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== null && explicit !== "") {
    const found = explicit.includes("/")
      ? isExecutableFile(explicit)
        ? explicit
        : null
      : searchPath(explicit, env["PATH"]);
    if (found === null)
      throw new NarwhalError(
        "WORKER_BOOT",
        `python interpreter not found: ${explicit} (--python)`,
        null,
      );
    return found;
  }
  const venv = env["VIRTUAL_ENV"];
  if (venv !== undefined && venv !== "") {
    const candidate = join(venv, "bin", "python");
    if (isExecutableFile(candidate)) return candidate;
  }
  const onPath = searchPath("python3", env["PATH"]);
  if (onPath === null) {
    throw new NarwhalError(
      "WORKER_BOOT",
      "python interpreter not found: no $VIRTUAL_ENV/bin/python and no python3 on PATH (use --python)",
      null,
    );
  }
  return onPath;
}
