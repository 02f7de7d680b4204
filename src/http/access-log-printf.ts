/**
 * Python's `%`-formatting with a mapping (`"%(h)s %(T)d" % atoms`), which is what
 * Gunicorn's `access_log_format` is: `%(KEY)[FLAGS][WIDTH][.PRECISION]CONVERSION`,
 * plus `%%`. Compiled once at startup; type mistakes Python would only raise per request
 * (`%(h)d` on a text atom) are refused here with a ConfigError instead.
 *
 * Grammar (CPython Objects/unicodeobject.c, "printf-style String Formatting"):
 *   spec   = "%" "(" key ")" flags* width? ("." precision)? [hlL]? conversion
 *   flags  = "#" | "0" | "-" | " " | "+"
 *   conversion = d i o u x X e E f F g G s r a %
 */
import { ConfigError } from "../core/errors.js";

export interface Conversion {
  readonly key: string;
  readonly flags: string;
  readonly width: number | null;
  readonly precision: number | null;
  readonly conv: string;
}

export type Piece = string | Conversion;

const NUMERIC_CONVERSIONS = "diouxXeEfFgG";

/** Split a format into literal text and conversions; throws ConfigError on bad syntax. */
export function compilePrintf(format: string, what: string): Piece[] {
  const pieces: Piece[] = [];
  let lit = "";
  let i = 0;
  const bad = (msg: string): never => {
    throw new ConfigError(`invalid ${what} ${JSON.stringify(format)}: ${msg}`);
  };
  while (i < format.length) {
    const c = format[i]!;
    if (c !== "%") {
      lit += c;
      i++;
      continue;
    }
    i++;
    if (format[i] === "%") {
      lit += "%";
      i++;
      continue;
    }
    if (format[i] !== "(")
      bad(`conversion at offset ${i - 1} has no (name); write %(h)s, or %% for a percent sign`);
    // Python counts nested parentheses inside the key.
    let depth = 1;
    const keyStart = ++i;
    while (i < format.length && depth > 0) {
      if (format[i] === "(") depth++;
      else if (format[i] === ")") depth--;
      i++;
    }
    if (depth > 0) bad("incomplete format key");
    const key = format.slice(keyStart, i - 1);
    let flags = "";
    while (i < format.length && "#0- +".includes(format[i]!)) flags += format[i++]!;
    let width: number | null = null;
    let precision: number | null = null;
    const w = /^\d+/.exec(format.slice(i));
    if (w) {
      width = Number(w[0]);
      i += w[0].length;
    } else if (format[i] === "*") bad("* width needs positional arguments");
    if (format[i] === ".") {
      i++;
      const p = /^\d*/.exec(format.slice(i))![0];
      if (format[i] === "*") bad("* precision needs positional arguments");
      precision = p === "" ? 0 : Number(p);
      i += p.length;
    }
    while (i < format.length && "hlL".includes(format[i]!)) i++; // length modifiers: ignored, as in Python
    const conv = format[i];
    if (conv === undefined) bad("incomplete format");
    if (!"diouxXeEfFgGsra".includes(conv!))
      bad(`unsupported format character ${JSON.stringify(conv)}`);
    i++;
    if (lit) pieces.push(lit);
    lit = "";
    pieces.push({ key, flags, width, precision, conv: conv! });
  }
  if (lit) pieces.push(lit);
  return pieces;
}

export function isNumericConversion(conv: string): boolean {
  return NUMERIC_CONVERSIONS.includes(conv);
}

/** Format one value as Python would for this conversion. */
export function formatValue(c: Conversion, value: string | number): string {
  let body: string;
  let sign = "";
  if (c.conv === "s" || c.conv === "r" || c.conv === "a") {
    body = c.conv === "s" ? String(value) : pyRepr(value, c.conv === "a");
    if (c.precision !== null) body = body.slice(0, c.precision);
    return pad(body, c, "", false);
  }
  if (typeof value !== "number")
    throw new TypeError(`%${c.conv} format: a real number is required, not str`);
  if (value < 0 || Object.is(value, -0)) sign = "-";
  else if (c.flags.includes("+")) sign = "+";
  else if (c.flags.includes(" ")) sign = " ";
  const abs = Math.abs(value);
  switch (c.conv) {
    case "d":
    case "i":
    case "u":
      body = BigInt(Math.trunc(abs)).toString();
      if (c.precision !== null) body = body.padStart(c.precision, "0");
      break;
    case "o":
    case "x":
    case "X": {
      if (!Number.isInteger(value))
        throw new TypeError(`%${c.conv} format: an integer is required, not float`);
      const radix = c.conv === "o" ? 8 : 16;
      body = abs.toString(radix);
      if (c.precision !== null) body = body.padStart(c.precision, "0");
      if (c.flags.includes("#")) sign += c.conv === "o" ? "0o" : "0x";
      if (c.conv === "X") {
        body = body.toUpperCase();
        sign = sign.toUpperCase();
      }
      break;
    }
    case "f":
    case "F":
      body = abs.toFixed(c.precision ?? 6);
      break;
    case "e":
    case "E":
      body = pyExp(abs, c.precision ?? 6);
      if (c.conv === "E") body = body.toUpperCase();
      break;
    default: {
      // g / G: exponent form when exp < -4 or exp >= precision; trailing zeros dropped
      const p = c.precision === 0 ? 1 : (c.precision ?? 6);
      const exp = abs === 0 ? 0 : Math.floor(Math.log10(Number(abs.toExponential(p - 1))));
      body = exp < -4 || exp >= p ? pyExp(abs, p - 1) : abs.toFixed(Math.max(0, p - 1 - exp));
      if (!c.flags.includes("#")) {
        const [mant, e] = body.split("e") as [string, string | undefined];
        const trimmed = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
        body = e === undefined ? trimmed : `${trimmed}e${e}`;
      }
      if (c.conv === "G") body = body.toUpperCase();
    }
  }
  return pad(body, c, sign, true);
}

function pad(body: string, c: Conversion, sign: string, numeric: boolean): string {
  const len = sign.length + body.length;
  if (c.width === null || len >= c.width) return sign + body;
  const fill = c.width - len;
  if (c.flags.includes("-")) return sign + body + " ".repeat(fill);
  if (numeric && c.flags.includes("0")) return sign + "0".repeat(fill) + body;
  return " ".repeat(fill) + sign + body;
}

/** `1.500000e+03`: Python always writes at least two exponent digits. */
function pyExp(abs: number, precision: number): string {
  const [mant, exp] = abs.toExponential(precision).split("e") as [string, string];
  const n = Number(exp);
  return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
}

/** Python's repr() of a str (or ascii() with `ascii`), or of a number. */
export function pyRepr(value: string | number, ascii = false): string {
  if (typeof value === "number") return String(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (ascii && cp >= 0x7f)) {
      if (cp <= 0xff) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp <= 0xffff) out += "\\u" + cp.toString(16).padStart(4, "0");
      else out += "\\U" + cp.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}
