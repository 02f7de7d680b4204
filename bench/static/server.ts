// narwhal's side of the static benchmark: one process, an HttpServer + the static handler.
// usage: tsx bench/static/server.ts PORT ROOT
import { HttpServer } from "../../src/http/server.js";
import { Logger, LineSink } from "../../src/core/log.js";
import { staticHandler, staticOptions, FileCache } from "../../src/static/index.js";

const [portArg, root] = process.argv.slice(2);
if (portArg === undefined || root === undefined) {
  process.stderr.write("usage: server.ts PORT ROOT\n");
  process.exit(2);
}
const logger = new Logger(new LineSink("-"), "warning");
const opts = staticOptions({ root, cache: new FileCache() });
const server = new HttpServer({ handler: staticHandler(opts, logger), logger });
await server.listen([`127.0.0.1:${portArg}`]);
process.stdout.write("ready\n");
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    void server.drain(1000).then(() => process.exit(0));
  });
}
