/** Small builders that keep the directive table readable. */
import type {
  ApplyContext,
  Context,
  DirectiveDecl,
  MergeKind,
  SettingHandler,
  SettingKey,
} from "./directive-types.js";
import { parseFlag, parseNginxSize, parseNginxTime, parseNumber } from "./values.js";

/** http, server and location (the usual "HTTP_MAIN|SRV|LOC"). */
export const HSL: readonly Context[] = ["http", "server", "location"];
/** ... and `if` in a location. */
export const HSLI: readonly Context[] = ["http", "server", "location", "lif"];
export const HS: readonly Context[] = ["http", "server"];

type DeclInput = Omit<DirectiveDecl, "block" | "effect" | "default" | "section"> &
  Partial<Pick<DirectiveDecl, "block" | "effect" | "default">>;

/** A directive of one documentation section. */
export function section(name: string): (d: DeclInput) => DirectiveDecl {
  return (d) =>
    Object.freeze({ block: false, effect: "honoured", default: null, section: name, ...d });
}

export function setting<V>(
  key: SettingKey,
  parse: (c: ApplyContext) => V,
  opts: {
    merge?: MergeKind;
    multiple?: boolean;
    accumulate?: (prev: V, next: V) => V;
    unset?: V;
  } = {},
): SettingHandler {
  const h: SettingHandler = {
    kind: "setting",
    key,
    merge: opts.merge ?? "inherit",
    multiple: opts.multiple ?? false,
    parse,
    ...(opts.accumulate ? { accumulate: opts.accumulate } : {}),
    ...("unset" in opts ? { unset: opts.unset } : {}),
  };
  return h;
}

/** A list setting: the directive may repeat and each occurrence appends. */
export function listSetting(
  key: SettingKey,
  parse: (c: ApplyContext) => unknown,
  merge: MergeKind = "inherit",
): SettingHandler {
  return setting<readonly unknown[]>(key, (c) => [parse(c)], {
    merge,
    multiple: true,
    accumulate: (prev, next) => [...prev, ...next],
    unset: [],
  });
}

export function arg0(c: ApplyContext): string {
  return c.args[0]!;
}

/** on|off, with nginx's message. */
export function flagValue(c: ApplyContext, i = 0): boolean {
  const v = parseFlag(c.args[i]!);
  if (v === null)
    c.fail(`invalid value "${c.args[i]!}" in "${c.name}" directive, it must be "on" or "off"`);
  return v;
}

/** A size (ngx_conf_set_size_slot's message). */
export function sizeValue(c: ApplyContext, i = 0): number {
  const v = parseNginxSize(c.args[i]!);
  if (v === null) c.fail(`"${c.name}" directive invalid value`);
  return v;
}

/** A time in seconds (ngx_conf_set_msec_slot / sec_slot message). */
export function timeValue(c: ApplyContext, i = 0): number {
  const v = parseNginxTime(c.args[i]!);
  if (v === null) c.fail(`"${c.name}" directive invalid value`);
  return v;
}

export function numberValue(
  c: ApplyContext,
  i = 0,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = parseNumber(c.args[i]!);
  if (v === null || v < min || v > max) c.invalid(c.args[i]!);
  return v;
}

export function enumValue<T extends string>(c: ApplyContext, values: readonly T[], i = 0): T {
  const a = c.args[i]!;
  if (!(values as readonly string[]).includes(a)) c.invalid(a);
  return a as T;
}
