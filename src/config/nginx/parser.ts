/**
 * Parser: statements from the lexer → a tree of directives with FILE:LINE, `include`
 * expanded in place wherever it appears (as nginx does, any context). Relative include
 * paths are resolved against the prefix (by default the main config file's directory,
 * nginx's conf_prefix).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import type { Directive, SourceFile } from "./ast.js";
import { expandGlob, hasGlob } from "./glob.js";
import { Lexer } from "./lexer.js";

/** Deeper than this is an include loop. */
const MAX_INCLUDE_DEPTH = 32;

export interface ParseOptions {
  /** Directory that relative `include` paths are resolved against. */
  readonly includeBase: string;
  /** Receives every file read, in order. */
  readonly sources?: SourceFile[];
}

/** Parse a config file and every file it includes. */
export function parseConfigFile(path: string, opts: ParseOptions): Directive[] {
  const text = readConfig(path, null);
  opts.sources?.push({ path, text });
  return parseText(text, path, opts, 0);
}

/** Parse config text (e.g. `-g` directives) as if it were the file named `file`. */
export function parseText(text: string, file: string, opts: ParseOptions, depth = 0): Directive[] {
  const lexer = new Lexer(text, file);
  const body = parseBlock(lexer, opts, depth, false);
  return body;
}

function readConfig(path: string, from: { file: string; line: number } | null): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT"
        ? "2: No such file or directory"
        : e.code === "EACCES"
          ? "13: Permission denied"
          : e.code === "EISDIR"
            ? "21: Is a directory"
            : (e.code ?? e.message);
    throw new ConfigError(
      `open() "${path}" failed (${why})`,
      from?.file ?? null,
      from?.line ?? null,
    );
  }
}

function parseBlock(
  lexer: Lexer,
  opts: ParseOptions,
  depth: number,
  inBlock: boolean,
): Directive[] {
  const out: Directive[] = [];
  for (;;) {
    const st = lexer.next();
    if (st.kind === "eof") {
      if (inBlock)
        throw new ConfigError('unexpected end of file, expecting "}"', lexer.file, st.line);
      return out;
    }
    if (st.kind === "end") {
      if (!inBlock) throw new ConfigError('unexpected "}"', lexer.file, st.line);
      return out;
    }
    const [head, ...rest] = st.words;
    const d = {
      name: head!.text,
      args: rest.map((w) => w.text),
      quoted: rest.map((w) => w.quoted),
      file: lexer.file,
      line: st.line,
    };
    if (st.kind === "block") {
      const block = parseBlock(lexer, opts, depth, true);
      out.push({ ...d, block });
      continue;
    }
    if (d.name === "include") {
      out.push(...expandInclude(d, opts, depth));
      continue;
    }
    out.push({ ...d, block: null });
  }
}

function expandInclude(
  d: { args: readonly string[]; file: string; line: number },
  opts: ParseOptions,
  depth: number,
): Directive[] {
  if (d.args.length !== 1)
    throw new ConfigError('invalid number of arguments in "include" directive', d.file, d.line);
  if (depth >= MAX_INCLUDE_DEPTH)
    throw new ConfigError("too deep include nesting (an include loop?)", d.file, d.line);
  const arg = d.args[0]!;
  const full = isAbsolute(arg) ? arg : resolve(opts.includeBase, arg);
  // nginx: a pattern that matches nothing is fine, a plain missing file is an error.
  const files = hasGlob(full) ? expandGlob(full) : [full];
  const out: Directive[] = [];
  for (const f of files) {
    const text = readConfig(f, d);
    opts.sources?.push({ path: f, text });
    out.push(...parseText(text, f, opts, depth + 1));
  }
  return out;
}
