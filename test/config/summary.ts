/**
 * A readable, stable JSON view of a loaded config for golden files: paths relative to
 * the fixture directory, templates and regexes as their source text, and for each level
 * only the settings that differ from the enclosing level (http: from the defaults).
 */
import type { HttpConf, Location, NginxConfig, Statement } from "../../src/config/nginx/index.js";
import { shippedMimeTypesPath } from "../../src/config/nginx/index.js";
import { parseConfigFile } from "../../src/config/nginx/parser.js";
import { settingByName } from "../../src/config/settings.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function toJson(v: unknown, dir: string): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === "string")
    return v
      .split(dir + "/")
      .join("$DIR/")
      .split(dir)
      .join("$DIR");
  if (typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map((x) => toJson(x, dir));
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("source" in o && "parts" in o && "constant" in o) return toJson(o["source"], dir); // Template
    if ("source" in o && "regex" in o && "caseless" in o)
      return toJson(`${o["caseless"] ? "~*" : "~"}${String(o["source"])}`, dir);
    const out: Record<string, Json> = {};
    for (const k of Object.keys(o).sort()) out[k] = toJson(o[k], dir);
    return out;
  }
  // undefined, bigint, symbol, function: not JSON; show their type.
  return `<${typeof v}>`;
}

const SHIPPED: Readonly<Record<string, string>> = (() => {
  const out: Record<string, string> = {};
  for (const t of parseConfigFile(shippedMimeTypesPath(), { includeBase: "/" })[0]?.block ?? [])
    for (const e of t.args) out[e] = t.name;
  return out;
})();

/** The shipped mime.types is shown as one marker, plus any other entries. */
function typesJson(types: Readonly<Record<string, string>>): Json {
  const all = Object.entries(SHIPPED).every(([e, t]) => types[e] === t);
  const extra = Object.keys(types)
    .filter((e) => !all || types[e] !== SHIPPED[e])
    .sort()
    .map((e) => `${e}=${types[e]!}`);
  return all ? ["<conf/mime.types>", ...extra] : extra;
}

function diff(conf: HttpConf, base: HttpConf, dir: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const k of Object.keys(conf) as (keyof HttpConf)[]) {
    const a = JSON.stringify(toJson(conf[k], dir));
    if (a !== JSON.stringify(toJson(base[k], dir)))
      out[k] = k === "types" ? typesJson(conf.types) : toJson(conf[k], dir);
  }
  return out;
}

function script(s: readonly Statement[], base: HttpConf, dir: string): Json[] {
  return s.map((st) => {
    const { file: _f, line, ...rest } = st;
    if (st.kind === "if")
      return {
        kind: "if",
        line,
        condition: toJson(st.condition, dir),
        conf: diff(st.conf, base, dir),
        script: script(st.script, base, dir),
      };
    return { line, ...(toJson(rest, dir) as Record<string, Json>) };
  });
}

function location(l: Location, base: HttpConf, dir: string): Json {
  return {
    match: l.modifier === "@" ? l.name : `${l.modifier}${l.modifier ? " " : ""}${l.name}`,
    line: l.line,
    conf: diff(l.conf, base, dir),
    ...(l.script.length ? { script: script(l.script, base, dir) } : {}),
    ...(l.locations.length ? { locations: l.locations.map((c) => location(c, l.conf, dir)) } : {}),
  };
}

/** `base` is the defaults for this prefix (httpDefaults) so each level shows its changes. */
export function summarize(c: NginxConfig, base: HttpConf, dir: string): Json {
  return {
    fullConfig: c.fullConfig,
    main: toJson(c.main, dir),
    http: diff(c.http, base, dir),
    upstreams: toJson(
      Object.values(c.upstreams).map((u) => ({
        name: u.name,
        balance: u.balance,
        ...(u.hashKey ? { hashKey: u.hashKey, hashConsistent: u.hashConsistent } : {}),
        keepalive: u.keepalive,
        keepaliveTimeout: u.keepaliveTimeout,
        keepaliveRequests: u.keepaliveRequests,
        servers: u.servers.map(({ file: _f, line: _l, ...s }) => s),
      })),
      dir,
    ),
    // Only the app settings that differ from the settings table's defaults.
    ...(Object.keys(c.apps).length
      ? {
          apps: Object.values(c.apps).map((a) => ({
            name: a.name,
            module: a.module,
            at: toJson(`${a.file}:${a.line}`, dir),
            settings: toJson(
              Object.fromEntries(
                a.settings
                  .entries()
                  .filter(
                    ([k, v]) =>
                      JSON.stringify(v) !== JSON.stringify(settingByName(k)?.default ?? null),
                  ),
              ),
              dir,
            ),
          })),
        }
      : {}),
    servers: c.servers.map((s) => ({
      at: toJson(`${s.file}:${s.line}`, dir),
      listen: s.listen.map((l) =>
        toJson(
          {
            key: l.key,
            defaultServer: l.defaultServer,
            backlog: l.backlog,
            ...(l.ipv6only ? {} : { ipv6only: false }),
          },
          dir,
        ),
      ),
      server_name: [...s.serverNameText],
      conf: diff(s.conf, c.http, dir),
      ...(s.script.length ? { script: script(s.script, s.conf, dir) } : {}),
      locations: s.locations.map((l) => location(l, s.conf, dir)),
    })),
    listenGroups: c.listenGroups.map((g) => ({
      key: g.key,
      servers: g.servers.map((s) => toJson(`${s.file}:${s.line}`, dir)),
      defaultServer: toJson(`${g.defaultServer.file}:${g.defaultServer.line}`, dir),
    })),
  };
}
