/**
 * The worker command line (docs/protocol.md, "Transport and command line") built from
 * Gunicorn-style settings: `python -m narwhal_worker --threads N [--chdir DIR]
 * [--pythonpath DIRS] [--name NAME] [--sched-other] APP_MODULE`, with `-e KEY=VALUE` in its environment.
 */
import { delimiter, join, resolve } from "node:path";
import { NarwhalError } from "../core/errors.js";
import { repoRoot } from "../core/paths.js";
import type { WorkerSpec } from "./worker.js";

export interface WorkerCommandOptions {
  /** The interpreter (findPython()). */
  readonly python: string;
  /** APP_MODULE as given: module:callable, module, module:factory(...). */
  readonly app: string;
  readonly threads: number;
  readonly chdir: string | null;
  readonly pythonpath: string | null;
  /** `KEY=VALUE` strings from -e/--env. */
  readonly rawEnv: readonly string[];
  readonly name?: string | null;
  /** The environment to start from (default process.env). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** The master runs under SCHED_BATCH (sched.ts): the worker switches back to SCHED_OTHER. */
  readonly schedOther?: boolean;
}

/** Parses -e/--env values; a value without "=" is a usage mistake (Gunicorn refuses it too). */
export function parseRawEnv(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of raw) {
    const eq = kv.indexOf("=");
    if (eq <= 0)
      throw new NarwhalError(
        "CLI_USAGE",
        `invalid --env value ${JSON.stringify(kv)} (expected KEY=VALUE)`,
        null,
      );
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export function workerSpec(o: WorkerCommandOptions): WorkerSpec {
  const args = ["-m", "narwhal_worker", "--threads", String(o.threads)];
  // Relative paths mean relative to where narwhal was started, as in Gunicorn.
  if (o.chdir !== null && o.chdir !== "") args.push("--chdir", resolve(o.chdir));
  if (o.pythonpath !== null && o.pythonpath !== "") {
    args.push(
      "--pythonpath",
      o.pythonpath
        .split(",")
        .map((p) => (p.trim() === "" ? p : resolve(p.trim())))
        .join(","),
    );
  }
  if (o.name !== undefined && o.name !== null && o.name !== "") args.push("--name", o.name);
  if (o.schedOther === true) args.push("--sched-other");
  args.push(o.app);
  const env: NodeJS.ProcessEnv = { ...(o.baseEnv ?? process.env), ...parseRawEnv(o.rawEnv) };
  // narwhal's own package must be importable whatever the app's paths are.
  const ours = join(repoRoot(), "python");
  env["PYTHONPATH"] = env["PYTHONPATH"] ? `${ours}${delimiter}${env["PYTHONPATH"]}` : ours;
  // Prints and tracebacks reach the error log as they happen, not at exit.
  env["PYTHONUNBUFFERED"] = "1";
  return { python: o.python, args, env };
}
