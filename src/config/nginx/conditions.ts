/**
 * `if (...)` conditions (ngx_http_rewrite_if_condition). The lexer hands over words
 * such as `($request_method`, `=`, `POST)`; the parentheses are stripped here.
 */
import type { ApplyContext } from "./directive-types.js";
import type { IfCondition } from "./model.js";

export function parseIfCondition(c: ApplyContext): IfCondition {
  const args = [...c.args];
  const first = args[0]!;
  const last = args[args.length - 1]!;
  if (!first.startsWith("(")) c.fail(`invalid condition "${first}"`);
  if (!last.endsWith(")")) c.fail(`invalid condition "${last}"`);
  args[0] = first.slice(1);
  args[args.length - 1] = args[args.length - 1]!.slice(0, -1);
  if (args[0] === "") args.shift();
  if (args.length > 0 && args[args.length - 1] === "") args.pop();
  const [a, op, b] = args;
  if (a === undefined) c.fail('invalid condition "("');
  if (a.startsWith("$")) {
    const value = c.template(a);
    if (args.length === 1) return { kind: "variable", value };
    if (args.length !== 3 || op === undefined || b === undefined)
      c.fail(`invalid condition "${a}"`);
    if (op === "=" || op === "!=")
      return { kind: "compare", value, negate: op === "!=", to: c.template(b) };
    if (op === "~" || op === "~*" || op === "!~" || op === "!~*") {
      return {
        kind: "match",
        value,
        negate: op.startsWith("!"),
        regex: c.regex(b, op.endsWith("*")),
      };
    }
    c.fail(`unexpected "${op}" in condition`);
  }
  const m = /^(!?)-([fdex])$/.exec(a);
  if (m && args.length === 2 && op !== undefined) {
    return {
      kind: "file",
      test: m[2] as "f" | "d" | "e" | "x",
      negate: m[1] === "!",
      path: c.template(op),
    };
  }
  c.fail(`invalid condition "${a}"`);
}
