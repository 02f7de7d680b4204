/** The frozen, typed view of all settings after CLI, environment and config file merged. */
import type { SettingValue } from "./setting-types.js";
import { SETTINGS } from "./settings.js";

export class Settings {
  private readonly values: ReadonlyMap<string, SettingValue>;

  constructor(overrides: ReadonlyMap<string, SettingValue> = new Map()) {
    const all = new Map<string, SettingValue>();
    for (const s of SETTINGS)
      all.set(s.name, overrides.has(s.name) ? overrides.get(s.name)! : s.default);
    for (const k of overrides.keys()) if (!all.has(k)) throw new Error(`unknown setting ${k}`);
    this.values = all;
    Object.freeze(this);
  }

  private get(name: string): SettingValue {
    if (!this.values.has(name)) throw new Error(`unknown setting ${name}`);
    return this.values.get(name)!;
  }
  num(name: string): number {
    const v = this.get(name);
    if (typeof v !== "number") throw new Error(`setting ${name} is not a number`);
    return v;
  }
  str(name: string): string {
    const v = this.get(name);
    if (typeof v !== "string") throw new Error(`setting ${name} is not a string`);
    return v;
  }
  strOrNull(name: string): string | null {
    const v = this.get(name);
    if (v !== null && typeof v !== "string") throw new Error(`setting ${name} is not a string`);
    return v;
  }
  bool(name: string): boolean {
    const v = this.get(name);
    if (typeof v !== "boolean") throw new Error(`setting ${name} is not a boolean`);
    return v;
  }
  list(name: string): readonly string[] {
    const v = this.get(name);
    if (!Array.isArray(v)) throw new Error(`setting ${name} is not a list`);
    return v as readonly string[];
  }
  /** Every setting as name → value, for --print-config. */
  entries(): Array<[string, SettingValue]> {
    return [...this.values];
  }
  /** A copy with some values replaced (used by tests and config layering). */
  with(changes: Record<string, SettingValue>): Settings {
    const m = new Map(this.values);
    for (const [k, v] of Object.entries(changes)) m.set(k, v);
    return new Settings(m);
  }
}
