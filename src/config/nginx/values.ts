/**
 * nginx's value syntaxes: sizes (`ngx_parse_size`), times (`ngx_parse_time`), flags,
 * numbers. Each returns null on bad input; the table turns that into nginx's message.
 */

/** "1024", "8k", "1m", "1g" (either case) → bytes. */
export function parseNginxSize(text: string): number | null {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) return null;
  const unit = (m[2] ?? "").toLowerCase();
  const n =
    Number(m[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1);
  return Number.isSafeInteger(n) ? n : null;
}

const TIME_UNITS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  M: 30 * 86400,
  y: 365 * 86400,
};

/** "30", "30s", "500ms", "1h30m", "1d" → seconds (ngx_parse_time: units may combine). */
export function parseNginxTime(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+)(ms|s|m|h|d|w|M|y)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * TIME_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === text.length && pos > 0 ? total : null;
}

export function parseFlag(text: string): boolean | null {
  const t = text.toLowerCase();
  return t === "on" ? true : t === "off" ? false : null;
}

export function parseNumber(text: string): number | null {
  return /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
}
