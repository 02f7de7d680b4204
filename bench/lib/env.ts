/**
 * Where the things under test are: the repository, its .venv (Gunicorn, Django), a private
 * snapshot build of narwhal, and a ready-to-serve copy of the Django example.
 *
 * narwhal runs from a snapshot (tsc of src/ into a temp dir with python/ and conf/
 * copied) so that other people rebuilding dist/ mid-run cannot change what is measured.
 * BENCH_NARWHAL=repo uses the repository's bin/narwhal (and dist/) as they are.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VENV = join(REPO, ".venv");
/** The interpreter for narwhal's workers and Gunicorn: BENCH_PYTHON, else the .venv's. */
export const PYTHON = process.env["BENCH_PYTHON"] ?? join(VENV, "bin", "python");
export const EXAMPLES = join(REPO, "examples");
export const LIFECYCLE = join(EXAMPLES, "lifecycle");

/** A scratch directory removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `narwhal-bench-${prefix}-`));
  // BENCH_KEEP=1 keeps it (server logs, generated configs) for a look afterwards.
  const keep = process.env["BENCH_KEEP"] === "1";
  return {
    dir,
    remove: () => {
      if (keep) process.stderr.write(`kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The venv's site-packages (for uWSGI, which embeds Debian's own libpython). */
export function sitePackages(): string {
  const r = spawnSync(
    join(VENV, "bin", "python"),
    ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
    { encoding: "utf8", timeout: 20_000 },
  );
  const p = r.stdout.trim();
  if (r.status !== 0 || p === "")
    throw new Error(`cannot find the venv's site-packages: ${r.stderr}`);
  return p;
}

/** Builds narwhal into `dir` (or uses the repo's); returns the command line prefix to run it. */
export function narwhalCommand(dir: string): { cmd: string; args: string[]; note: string } {
  if (process.env["BENCH_NARWHAL"] === "repo") {
    if (!existsSync(join(REPO, "dist", "src", "main.js")))
      throw new Error("BENCH_NARWHAL=repo but dist/ is not built: npm run build");
    return { cmd: process.execPath, args: [join(REPO, "bin", "narwhal")], note: "repo dist/" };
  }
  const snap = join(dir, "narwhal");
  mkdirSync(join(snap, "bin"), { recursive: true });
  writeFileSync(
    join(snap, "tsconfig.json"),
    JSON.stringify({
      extends: join(REPO, "tsconfig.json"),
      compilerOptions: {
        rootDir: REPO,
        outDir: join(snap, "dist"),
        sourceMap: true,
        // @types are looked up beside the tsconfig, which here sits in a temp dir.
        typeRoots: [join(REPO, "node_modules", "@types")],
      },
      include: [join(REPO, "src", "**", "*.ts")],
    }),
  );
  // Type errors in someone's half-written file do not stop the emit; a missing main.js does.
  const tsc = spawnSync(
    process.execPath,
    [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", join(snap, "tsconfig.json")],
    { encoding: "utf8", timeout: 600_000 },
  );
  if (!existsSync(join(snap, "dist", "src", "main.js")))
    throw new Error(`narwhal build failed:\n${tsc.stdout}${tsc.stderr}`);
  cpSync(join(REPO, "package.json"), join(snap, "package.json"));
  cpSync(join(REPO, "python"), join(snap, "python"), {
    recursive: true,
    filter: (s) => !s.includes("__pycache__"),
  });
  if (existsSync(join(REPO, "conf")))
    cpSync(join(REPO, "conf"), join(snap, "conf"), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(snap, "node_modules"));
  cpSync(join(REPO, "bin", "narwhal"), join(snap, "bin", "narwhal"));
  const head = spawnSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  const dirty = spawnSync("git", ["-C", REPO, "status", "--porcelain", "--", "src", "python"], {
    encoding: "utf8",
  });
  const errs = (tsc.stdout.match(/error TS/g) ?? []).length;
  return {
    cmd: process.execPath,
    args: [join(snap, "bin", "narwhal")],
    note:
      `snapshot of ${head.stdout.trim()}${dirty.stdout.trim() !== "" ? " + uncommitted src/python changes" : ""}` +
      (errs > 0 ? ` (tsc reported ${errs} type errors; emitted anyway)` : ""),
  };
}

/**
 * A migrated setup of examples/lifecycle: its DB, static root and media root
 * in `dir`, production mode (DEBUG off). Returns the environment to run it with.
 */
export function prepareDjango(dir: string, collectStatic: boolean): NodeJS.ProcessEnv {
  mkdirSync(join(dir, "media"), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LIFECYCLE_DEBUG: "0",
    LIFECYCLE_ALLOWED_HOSTS: "127.0.0.1,localhost",
    LIFECYCLE_DB: join(dir, "db.sqlite3"),
    LIFECYCLE_STATIC_ROOT: join(dir, "static"),
    LIFECYCLE_MEDIA_ROOT: join(dir, "media"),
    DJANGO_SETTINGS_MODULE: "lifecycle.settings",
  };
  const manage = (args: string[]): void => {
    const r = spawnSync(join(VENV, "bin", "python"), ["manage.py", ...args], {
      cwd: LIFECYCLE,
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    if (r.status !== 0)
      throw new Error(`manage.py ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  };
  manage(["migrate", "--noinput", "-v", "0"]);
  if (collectStatic) manage(["collectstatic", "--noinput", "-v", "0"]);
  return env;
}
