/** The server block's own directives: listen and server_name. */
import type { DirectiveDecl } from "./directive-types.js";
import type { Listen } from "./model.js";
import { parseListen } from "./listen.js";
import { parseServerNames } from "./server-names.js";
import { section, setting } from "./table-helpers.js";

const srv = section("Virtual servers");

export const SERVER_DIRECTIVES: readonly DirectiveDecl[] = [
  srv({
    name: "listen",
    contexts: ["server"],
    args: [1, Infinity],
    syntax:
      "listen address[:port] [default_server] [backlog=number] [ipv6only=on|off] [reuseport] [bind] [deferred];\nlisten port ...;\nlisten unix:path ...;",
    default: "*:80",
    doc: "The socket a server accepts requests on: `8080`, `127.0.0.1:8080`, `*:80`, `[::]:80`, `unix:/run/site.sock`. `default_server` makes this the server for Host names no other server claims on that socket; `backlog=` sets the listen queue.",
    handler: setting("listen", parseListen, {
      multiple: true,
      accumulate: (prev: readonly Listen[], next: readonly Listen[]) => [...prev, ...next],
      unset: [],
    }),
  }),
  srv({
    name: "server_name",
    contexts: ["server"],
    args: [1, Infinity],
    syntax: "server_name name ...;",
    default: '""',
    doc: 'Names of the virtual server: exact (`example.com`), wildcards (`*.example.com`, `mail.*`, `.example.com` = both `example.com` and `*.example.com`), regexes (`~^(?<user>.+)\\.example\\.net$`, captures usable as variables), or `""` for requests without Host. Chosen as nginx: exact, longest leading wildcard, longest trailing wildcard, first matching regex, else the default server.',
    handler: setting("server_name", parseServerNames, {
      multiple: true,
      accumulate: (prev: readonly unknown[], next: readonly unknown[]) => [...prev, ...next],
      unset: [],
    }),
  }),
];
