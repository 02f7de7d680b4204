import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./core/paths.js";

/** The package version, read once from package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version: string }
).version;
