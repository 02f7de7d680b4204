/** ngx_http_rewrite_module: statements run in order in the rewrite phase, never inherited. */
import type { ApplyContext, Context, DirectiveDecl } from "./directive-types.js";
import type { StatementBody } from "./model.js";
import { section } from "./table-helpers.js";

const rewrite = section("Rewrite");
const WHERE: readonly Context[] = ["server", "location", "sif", "lif"];

/** Replacement strings that make `rewrite` answer with a redirect. */
function isRedirectTarget(s: string): boolean {
  return s.startsWith("http://") || s.startsWith("https://") || s.startsWith("$scheme");
}

function parseReturn(c: ApplyContext): StatementBody {
  const a = c.args[0]!;
  if (c.args.length === 1 && !/^\d+$/.test(a)) {
    if (!isRedirectTarget(a)) c.fail(`invalid return code "${a}"`);
    return { kind: "return", code: 302, text: c.template(a) };
  }
  const code = Number(a);
  if (!/^\d+$/.test(a) || code > 999) c.fail(`invalid return code "${a}"`);
  return { kind: "return", code, text: c.args.length === 2 ? c.template(c.args[1]!) : null };
}

function parseRewrite(c: ApplyContext): StatementBody {
  const regex = c.regex(c.args[0]!, false);
  const replacement = c.template(c.args[1]!);
  let flag: "last" | "break" | "redirect" | "permanent" | null = null;
  if (c.args.length === 3) {
    const f = c.args[2]!;
    if (f !== "last" && f !== "break" && f !== "redirect" && f !== "permanent")
      c.fail(`invalid parameter "${f}"`);
    flag = f;
  } else if (isRedirectTarget(c.args[1]!)) flag = "redirect";
  return { kind: "rewrite", regex, replacement, flag };
}

function parseSet(c: ApplyContext): StatementBody {
  const v = c.args[0]!;
  if (!v.startsWith("$") || !/^\$[A-Za-z0-9_]+$/.test(v)) c.fail(`invalid variable name "${v}"`);
  const name = v.slice(1).toLowerCase();
  c.declareVariable(name);
  return { kind: "set", variable: name, value: c.template(c.args[1]!) };
}

export const REWRITE_DIRECTIVES: readonly DirectiveDecl[] = [
  rewrite({
    name: "return",
    contexts: WHERE,
    args: [1, 2],
    syntax: "return code [text];\nreturn code URL;\nreturn URL;",
    doc: 'Stop and answer: `return 204;`, `return 403 "text";`, `return 301 https://$host$request_uri;` (301, 302, 303, 307, 308 take a URL for `Location`), `return URL;` (302). `444` closes the connection without a response.',
    handler: { kind: "statement", parse: parseReturn },
  }),
  rewrite({
    name: "rewrite",
    contexts: WHERE,
    args: [2, 3],
    syntax: "rewrite regex replacement [last | break | redirect | permanent];",
    doc: "If the URI matches `regex`, replace it (`$1`.. and named captures available). `last` searches locations again with the new URI, `break` stays in this location, `redirect` answers 302, `permanent` 301. A replacement starting with `http://`, `https://` or `$scheme` redirects. Arguments are kept unless the replacement ends with `?`.",
    handler: { kind: "statement", parse: parseRewrite },
  }),
  rewrite({
    name: "set",
    contexts: WHERE,
    args: [2, 2],
    syntax: "set $variable value;",
    doc: "Set a variable (declaring it for the whole config, as nginx).",
    handler: { kind: "statement", parse: parseSet },
  }),
  rewrite({
    name: "break",
    contexts: WHERE,
    args: [0, 0],
    syntax: "break;",
    doc: "Stop processing the rewrite statements of this level.",
    handler: { kind: "statement", parse: () => ({ kind: "break" }) },
  }),
];
