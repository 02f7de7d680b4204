/** Renders docs/config.md from the nginx directive table; a test compares it with the file. */
import { DIRECTIVES, VARIABLE_PREFIXES, VARIABLES } from "../src/config/nginx/index.js";

const CONTEXT_NAMES: Readonly<Record<string, string>> = {
  main: "main",
  events: "events",
  http: "http",
  server: "server",
  location: "location",
  sif: "if in server",
  lif: "if in location",
  upstream: "upstream",
  app: "app",
};

export function renderConfigDoc(): string {
  const out: string[] = [
    "# nginx-syntax configuration",
    "",
    "<!-- Generated from the directive table in src/config/nginx/ by `npm run docs`. Do not edit. -->",
    "",
    "`narwhal -c FILE` with a file that is not a `.py` file loads an nginx-syntax config: a full",
    "`nginx.conf` (`events {}` and `http { include sites-enabled/*; }`) or a bare site file whose",
    "`upstream` and `server` blocks sit at the top level. Syntax, inheritance and error messages",
    "(`... in FILE:LINE`) are nginx's; a config with any error does not start.",
    "",
    "Command line in this mode: `-t` test the config, `-T` test and dump it, `-p PREFIX`,",
    "`-e ERRLOG`, `-g 'DIRECTIVES'`, `-s reload|reopen|quit|stop` (signal the server named by the",
    "`pid` file), `-V` version and build details.",
    "",
    "Where narwhal differs from nginx, on purpose:",
    "",
    "- a bare site file gets an implicit `http` level with the shipped `conf/mime.types` and",
    "  `default_type application/octet-stream` (what Debian's `nginx.conf` wraps around it);",
    "- no invented paths: without `pid` there is no pid file, without `access_log` no access log,",
    "  and the error log is stderr;",
    '- `unknown "foo" variable` names the FILE:LINE where the variable is used;',
    "- `$uri` must decode to UTF-8 (else 400), and a `..` above the root is always 400;",
    "- `dotfiles` (off by default) keeps `.git`, `.env` and the like private.",
    "",
    "Effects: directives marked *accepted, no effect* parse and validate but change nothing in",
    "narwhal's design; *parsed, proxy* directives are read now and act through the reverse proxy.",
  ];
  let section = "";
  for (const d of DIRECTIVES) {
    if (d.contexts.length === 0) continue;
    if (d.section !== section) {
      section = d.section;
      out.push("", `## ${section}`);
    }
    out.push("", `### \`${d.name}\``, "", "```nginx", ...d.syntax.split("\n"), "```", "");
    if (d.default !== null) out.push(`- default: \`${d.name} ${d.default};\``);
    out.push(`- context: ${d.contexts.map((c) => CONTEXT_NAMES[c] ?? c).join(", ")}`);
    if (d.effect === "moot") out.push("- effect: accepted, no effect");
    if (d.effect === "later") out.push("- effect: parsed, proxy");
    out.push("", d.doc);
  }
  out.push(
    "",
    "## Variables",
    "",
    'Usable wherever a directive takes variables; an unknown name is an error (`unknown "foo" variable`).',
    "`set $name` and named regex captures declare new ones; `$1`..`$9` are the captures of the last regex that matched.",
    "",
    VARIABLES.map((v) => `\`$${v}\``).join(", "),
    "",
    "Families: " + VARIABLE_PREFIXES.map((p) => `\`$${p}NAME\``).join(", ") + ".",
  );
  return out.join("\n") + "\n";
}
