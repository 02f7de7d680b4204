/**
 * THE directive table: every directive narwhal understands, declared once. Parsing,
 * validation, inheritance and docs/config.md all read it. To add directives, add entries
 * to a directives-*.ts file, its setting to HttpConf in model.ts, and list the array here.
 */
import { APP_DIRECTIVES } from "./directives-app.js";
import type { Context, DirectiveDecl } from "./directive-types.js";
import { HTTP_DIRECTIVES } from "./directives-http.js";
import { LOG_DIRECTIVES } from "./directives-log.js";
import { MAIN_DIRECTIVES } from "./directives-main.js";
import { PROXY_DIRECTIVES, PROXY_MORE_DIRECTIVES } from "./directives-proxy.js";
import { REWRITE_DIRECTIVES } from "./directives-rewrite.js";
import { SERVER_DIRECTIVES } from "./directives-server.js";

export const DIRECTIVES: readonly DirectiveDecl[] = Object.freeze([
  ...MAIN_DIRECTIVES,
  ...SERVER_DIRECTIVES,
  ...HTTP_DIRECTIVES,
  ...REWRITE_DIRECTIVES,
  ...LOG_DIRECTIVES,
  ...PROXY_DIRECTIVES,
  ...PROXY_MORE_DIRECTIVES,
  ...APP_DIRECTIVES,
]);

const BY_NAME = new Map<string, DirectiveDecl[]>();
for (const d of DIRECTIVES) {
  const list = BY_NAME.get(d.name) ?? [];
  list.push(d);
  BY_NAME.set(d.name, list);
}

/** All declarations of a name (one per context family, e.g. `server` in http and in upstream). */
export function declarationsOf(name: string): readonly DirectiveDecl[] {
  return BY_NAME.get(name) ?? [];
}

/** The declaration usable in `context`, or null. */
export function lookupDirective(name: string, context: Context): DirectiveDecl | null {
  for (const d of BY_NAME.get(name) ?? []) if (d.contexts.includes(context)) return d;
  return null;
}
