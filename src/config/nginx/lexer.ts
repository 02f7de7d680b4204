/**
 * The nginx config tokenizer, a transcription of nginx's `ngx_conf_read_token`
 * (src/core/ngx_conf_file.c) so that files nginx accepts read the same here:
 *
 * - words are separated by SP, HTAB, CR, LF; `;` and `{` also end a word;
 * - `}` is a token only where a word may start (`a}` is one word);
 * - `#` starts a comment only where a word may start;
 * - `"..."` and `'...'` quote; after the closing quote only space, `;`, `{` or `)` may follow;
 * - a backslash escapes the next character; when a word is copied `\"`, `\'` and `\\`
 *   lose the backslash, `\t` `\r` `\n` become control characters, anything else is kept
 *   verbatim (so regexes like `\d` survive);
 * - `${` does not open a block (variables like `${name}` inside words).
 *
 * Errors are nginx's own messages with FILE:LINE, where LINE is the line being read.
 */
import { ConfigError } from "../../core/errors.js";

export interface Word {
  readonly text: string;
  /** True when the word was written in quotes (`if` conditions and `location` care). */
  readonly quoted: boolean;
}

/** One statement as nginx reads it: words up to `;`, `{` or a lone `}`. */
export type Statement =
  | { readonly kind: "directive"; readonly words: readonly Word[]; readonly line: number }
  | { readonly kind: "block"; readonly words: readonly Word[]; readonly line: number }
  | { readonly kind: "end"; readonly line: number }
  | { readonly kind: "eof"; readonly line: number };

/** Reads statements from one file's text, one call at a time (like ngx_conf_read_token). */
export class Lexer {
  private pos = 0;
  private line = 1;

  constructor(
    private readonly text: string,
    readonly file: string,
  ) {}

  private fail(message: string): never {
    throw new ConfigError(message, this.file, this.line);
  }

  next(): Statement {
    const words: Word[] = [];
    const t = this.text;
    let lastSpace = true;
    let needSpace = false;
    let sharpComment = false;
    let quoted = false;
    let sQuoted = false;
    let dQuoted = false;
    let variable = false;
    let start = 0;
    for (;;) {
      if (this.pos >= t.length) {
        if (words.length > 0 || !lastSpace) {
          this.fail('unexpected end of file, expecting ";" or "}"');
        }
        return { kind: "eof", line: this.line };
      }
      const ch = t[this.pos++]!;
      if (ch === "\n") {
        this.line++;
        if (sharpComment) sharpComment = false;
      }
      if (sharpComment) continue;
      if (quoted) {
        quoted = false;
        continue;
      }
      if (needSpace) {
        if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") {
          lastSpace = true;
          needSpace = false;
          continue;
        }
        if (ch === ";") return { kind: "directive", words, line: this.line };
        if (ch === "{") return { kind: "block", words, line: this.line };
        if (ch === ")") {
          lastSpace = true;
          needSpace = false;
        } else {
          this.fail(`unexpected "${ch}"`);
        }
      }
      if (lastSpace) {
        start = this.pos - 1;
        if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") continue;
        switch (ch) {
          case ";":
          case "{":
            if (words.length === 0) this.fail(`unexpected "${ch}"`);
            return ch === "{"
              ? { kind: "block", words, line: this.line }
              : { kind: "directive", words, line: this.line };
          case "}":
            if (words.length !== 0) this.fail('unexpected "}"');
            return { kind: "end", line: this.line };
          case "#":
            sharpComment = true;
            continue;
          case "\\":
            quoted = true;
            lastSpace = false;
            continue;
          case '"':
            start++;
            dQuoted = true;
            lastSpace = false;
            continue;
          case "'":
            start++;
            sQuoted = true;
            lastSpace = false;
            continue;
          case "$":
            variable = true;
            lastSpace = false;
            continue;
          default:
            lastSpace = false;
        }
        continue;
      }
      if (ch === "{" && variable) continue;
      variable = false;
      if (ch === "\\") {
        quoted = true;
        continue;
      }
      if (ch === "$") {
        variable = true;
        continue;
      }
      let found = false;
      if (dQuoted) {
        if (ch === '"') {
          dQuoted = false;
          needSpace = true;
          found = true;
        }
      } else if (sQuoted) {
        if (ch === "'") {
          sQuoted = false;
          needSpace = true;
          found = true;
        }
      } else if (
        ch === " " ||
        ch === "\t" ||
        ch === "\r" ||
        ch === "\n" ||
        ch === ";" ||
        ch === "{"
      ) {
        lastSpace = true;
        found = true;
      }
      if (!found) continue;
      const raw = t.slice(start, this.pos - 1);
      const isQuoted = needSpace; // set exactly when a closing quote ended the word
      words.push({ text: unescape(raw), quoted: isQuoted });
      if (ch === ";") return { kind: "directive", words, line: this.line };
      if (ch === "{") return { kind: "block", words, line: this.line };
    }
  }
}

/** Copy a word the way ngx_conf_read_token does (see the module comment). */
function unescape(raw: string): string {
  if (!raw.includes("\\")) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "\\" && i + 1 < raw.length) {
      const n = raw[i + 1]!;
      if (n === '"' || n === "'" || n === "\\") {
        out += n;
        i++;
        continue;
      }
      if (n === "t" || n === "r" || n === "n") {
        out += n === "t" ? "\t" : n === "r" ? "\r" : "\n";
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}
