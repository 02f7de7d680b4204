/**
 * Composition root: the only module that imports every layer. Parses the command line,
 * builds the frozen settings, and starts the server.
 */
import { NarwhalError, UsageError } from "./core/errors.js";
import { helpText, parseArgs } from "./config/cli.js";
import { VERSION } from "./version.js";

export function main(argv: readonly string[]): void {
  try {
    const args = parseArgs(argv);
    if (args.command.help) {
      process.stdout.write(helpText());
      return;
    }
    if (args.command.version) {
      process.stdout.write(`narwhal ${VERSION}\n`);
      return;
    }
    throw new UsageError("nothing to serve yet");
  } catch (err) {
    if (err instanceof NarwhalError && err.status === null) {
      process.stderr.write(`narwhal: ${err.message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
      return;
    }
    throw err;
  }
}
