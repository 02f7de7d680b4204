/** Parsing of setting values: sizes (nginx units), durations, booleans, enums. */
import type { SettingDecl, SettingValue } from "./setting-types.js";

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "1024", "8k", "1m", "1g" (nginx's size syntax, case-insensitive) → bytes, or null. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([kmg]?)$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] ?? 1);
  return Number.isSafeInteger(n) ? n : null;
}

const TIME_UNITS: Readonly<Record<string, number>> = {
  ms: 0.001,
  "": 1,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/** "30", "30s", "500ms", "1m", "1.5" → seconds, or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * (TIME_UNITS[(m[2] ?? "").toLowerCase()] ?? 1);
}

export function parseBool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on", "y", "t"].includes(t)) return true;
  if (["0", "false", "no", "off", "n", "f"].includes(t)) return false;
  return null;
}

/** Convert one textual value for `decl`, or return an error message. */
export function convertValue(decl: SettingDecl, text: string): SettingValue | { error: string } {
  const bad = (what: string): { error: string } => ({
    error: `invalid value for ${decl.flags[0] ?? decl.name}: ${JSON.stringify(text)} (${what})`,
  });
  let value: SettingValue;
  switch (decl.kind) {
    case "int": {
      if (!/^-?\d+$/.test(text.trim())) return bad("expected an integer");
      value = Number(text);
      break;
    }
    case "float": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) return bad("expected a number");
      value = n;
      break;
    }
    case "size": {
      const n = parseSize(text);
      if (n === null) return bad("expected a size such as 1024, 8k, 1m");
      value = n;
      break;
    }
    case "duration": {
      const n = parseDuration(text);
      if (n === null) return bad("expected seconds such as 30, 30s, 500ms");
      value = n;
      break;
    }
    case "bool": {
      const b = parseBool(text);
      if (b === null) return bad("expected true or false");
      value = b;
      break;
    }
    case "enum": {
      if (!(decl.choices ?? []).includes(text))
        return bad(`one of ${(decl.choices ?? []).join(", ")}`);
      value = text;
      break;
    }
    case "list":
      value = [text];
      break;
    case "string":
      value = text;
      break;
  }
  if (typeof value === "number" && decl.min !== undefined && value < decl.min) {
    return bad(`must be at least ${decl.min}`);
  }
  return value;
}
