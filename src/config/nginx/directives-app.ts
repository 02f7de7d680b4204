/**
 * One-process mode (issue 6): `app NAME { module pkg.wsgi:application; workers 4; ... }`
 * declares a WSGI app whose worker pool narwhal runs itself, and `app_pass NAME;` hands
 * a location's requests to it (no loopback hop, no proxy).
 *
 * Inside `app`, every setting of the WSGI gateway is a directive with the name of its
 * Gunicorn config-file key (`workers`, `threads`, `timeout`, `max_requests`, ...): the
 * declarations below are DERIVED from the one settings table (src/config/settings.ts)
 * and converted by each setting's kind with the same converter as the command line
 * (src/config/values.ts), so a setting is declared once for CLI, config file and here.
 */
import { isIP } from "node:net";
import type { SettingDecl, SettingValue } from "../setting-types.js";
import { SETTINGS } from "../settings.js";
import { convertValue } from "../values.js";
import type { ApplyContext, DirectiveDecl } from "./directive-types.js";
import { arg0, section, setting } from "./table-helpers.js";

const app = section("WSGI apps (one-process mode)");

/** The settings-table sections that describe the worker pool and its supervision. */
const GATEWAY_SECTIONS: ReadonlySet<string> = new Set(["Worker processes", "Supervision"]);

/**
 * Settings of those sections that make no sense per app, and why: the nginx config
 * already has its own directive, or the setting is a command-line action.
 */
export const APP_EXCLUDED: Readonly<Record<string, string>> = {
  pidfile: "the main context's `pid`",
  umask: "process-wide: set it before starting narwhal",
  health_path: "a `location = /healthz { return 200; }`",
  ready_path: "a `location` with `return`",
  check_config: "`narwhal -t -c FILE`",
  print_config: "`narwhal -T -c FILE`",
  wsgi_app: "spelled `module`, and accepted as such",
};

/** Gunicorn's `wsgi_app` spelled nginx-style; the other aliases are the long flags (`--env`, `--preload`, `--name`). */
const MODULE_KEY = "wsgi_app";

/** Key in the builder's scope for setting NAME of an app block. */
export function appKey(name: string): `app.${string}` {
  return `app.${name}`;
}

/** The gateway settings usable in an `app` block, in table order. */
export const APP_SETTINGS: readonly SettingDecl[] = SETTINGS.filter(
  (s) =>
    (GATEWAY_SECTIONS.has(s.section) || s.name === "forwarded_allow_ips") &&
    !(s.name in APP_EXCLUDED),
);

/** Directive names for a setting: its Gunicorn key, plus its long flag when that differs (`env`, `preload`, `name`). */
function namesOf(s: SettingDecl): string[] {
  const names = [s.name];
  const flag = s.flags.find((f) => f.startsWith("--"));
  const alias = flag?.slice(2).replaceAll("-", "_");
  if (alias !== undefined && alias !== s.name) names.push(alias);
  return names;
}

/** The setting's error text from the shared converter, in nginx's wording. */
function convert(c: ApplyContext, s: SettingDecl, text: string): SettingValue {
  const v = convertValue(s, text);
  if (v !== null && typeof v === "object" && "error" in v) {
    const why = /\(([^()]*)\)$/.exec(v.error)?.[1];
    c.fail(`invalid value "${text}" in "${c.name}" directive${why ? `, ${why}` : ""}`);
  }
  return v;
}

function syntaxOf(name: string, s: SettingDecl): string {
  switch (s.kind) {
    case "list":
      return `${name} ${s.meta ?? "value"} ...;`;
    case "bool":
      return `${name} on|off;`;
    case "enum":
      return `${name} ${(s.choices ?? []).join("|")};`;
    default:
      return `${name} ${(s.meta ?? "value").toLowerCase()};`;
  }
}

function defaultOf(s: SettingDecl): string | null {
  if (s.default === null || Array.isArray(s.default)) return null;
  if (typeof s.default === "boolean") return s.default ? "on" : "off";
  if (s.default === "") return null;
  return String(s.default);
}

/** Gunicorn's address lists: `*`, or comma-separated addresses and CIDR networks. */
function checkAllowList(c: ApplyContext, text: string): void {
  for (const item of text.split(",").map((s) => s.trim())) {
    if (item === "*" || item === "") continue;
    const [addr = "", bits] = item.split("/");
    const fam = isIP(addr);
    const max = fam === 4 ? 32 : 128;
    if (fam === 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      c.fail(
        `invalid value "${text}" in "${c.name}" directive, "${item}" is not an address or network`,
      );
  }
}

/** `env A=1;` (repeatable, several per line): KEY=VALUE as Gunicorn's raw_env. */
function parseList(c: ApplyContext, s: SettingDecl): readonly string[] {
  for (const a of c.args) {
    if (s.name === "raw_env" && a.indexOf("=") <= 0)
      c.fail(`invalid value "${a}" in "${c.name}" directive, expected KEY=VALUE`);
  }
  return [...c.args];
}

/** App settings naming a directory; relative values are joined to the prefix. */
const PREFIX_RELATIVE: ReadonlySet<string> = new Set(["chdir", "client_body_temp_path"]);

function settingDirective(s: SettingDecl, name: string): DirectiveDecl {
  const list = s.kind === "list";
  return app({
    name,
    contexts: ["app"],
    args: list ? [1, Infinity] : [1, 1],
    syntax: syntaxOf(name, s),
    // The settings table's default; the app block's values are read with the table's
    // defaults, so this is for the docs only.
    default: null,
    doc:
      s.doc +
      (name !== s.name ? ` Same as \`${s.name}\`.` : "") +
      (defaultOf(s) !== null ? ` Default \`${defaultOf(s)!}\`.` : "") +
      (s.min !== undefined && s.kind !== "size" ? ` At least ${s.min}.` : ""),
    handler: list
      ? setting<readonly string[]>(appKey(s.name), (c) => parseList(c, s), {
          merge: "none",
          multiple: true,
          accumulate: (a, b) => [...a, ...b],
          unset: [],
        })
      : setting<SettingValue>(
          appKey(s.name),
          (c) => {
            if (s.name === "forwarded_allow_ips") checkAllowList(c, arg0(c));
            // Directories are resolved against the prefix, like `root` (nginx -p).
            if (PREFIX_RELATIVE.has(s.name)) return c.path(arg0(c));
            return convert(c, s, arg0(c));
          },
          {
            merge: "none",
            unset: s.default,
          },
        ),
  });
}

export const APP_DIRECTIVES: readonly DirectiveDecl[] = [
  app({
    name: "app",
    contexts: ["http"],
    args: [1, 1],
    block: true,
    syntax: "app name { module package.module:callable; ... }",
    doc:
      "A WSGI app served by this process's own Python worker pool: `app_pass name;` in a location hands requests to it, with no proxy and no loopback hop, so `narwhal -c site.conf` alone does what nginx + Gunicorn do. `module` is required; every other directive inside is a setting of the WSGI gateway under its Gunicorn config-file name (`workers`, `threads`, `timeout`, `max_requests`, ...), with the same values and defaults as on the command line (docs/settings.md); relative `chdir` and `client_body_temp_path` are resolved against the prefix, like `root`. Names are case-sensitive and unique. " +
      "HUP reloads the apps like Gunicorn's HUP: a new generation of workers with fresh code and the new settings starts, and the old workers finish their requests; if the new code cannot load, the old workers keep serving (a change of `max_queue`, `timeout`, `graceful_timeout`, `max_requests`, `max_requests_jitter`, `preload_app` or `reload` boots a whole new pool instead, and the old one drains). Settings not available per app: " +
      Object.entries(APP_EXCLUDED)
        .map(([k, why]) => `\`${k}\` (${why})`)
        .join(", ") +
      "; the access and error logs are the site's (`access_log`, `error_log`).",
    handler: { kind: "structure" },
  }),
  app({
    name: "module",
    contexts: ["app"],
    args: [1, 1],
    syntax: "module package.module:callable;",
    doc: "The WSGI callable to serve, as `APP_MODULE` on the command line: `module:callable`, `module` (callable `application`), or `module:factory(args)`. Same as Gunicorn's `wsgi_app`, which is accepted too.",
    handler: setting<string>(appKey(MODULE_KEY), (c) => {
      const m = arg0(c);
      if (!/^[A-Za-z_][\w.]*(:.+)?$/.test(m)) c.invalid(m);
      return m;
    }),
  }),
  app({
    name: "wsgi_app",
    contexts: ["app"],
    args: [1, 1],
    syntax: "wsgi_app package.module:callable;",
    doc: "Same as `module` (Gunicorn's config-file name).",
    handler: setting<string>(appKey(MODULE_KEY), (c) => {
      const m = arg0(c);
      if (!/^[A-Za-z_][\w.]*(:.+)?$/.test(m)) c.invalid(m);
      return m;
    }),
  }),
  ...APP_SETTINGS.flatMap((s) => namesOf(s).map((n) => settingDirective(s, n))),
  app({
    name: "app_pass",
    contexts: ["location", "lif"],
    args: [1, 1],
    syntax: "app_pass name;",
    doc: "Hand the location's requests to the worker pool of `app name` (declared anywhere in the config; an unknown name is an error, `unknown app \"name\"`). Like `proxy_pass`, not inherited by nested locations, and a location has one or the other. The request's body is limited by `client_max_body_size` as everywhere; the app sees the client's address and `Host`.",
    handler: setting<string | null>("app_pass", arg0, { merge: "none", unset: null }),
  }),
];
