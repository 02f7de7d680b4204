/** The parsed config: directives with their arguments, source position and block. */

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** Which arguments were written in quotes (same length as args). */
  readonly quoted: readonly boolean[];
  readonly file: string;
  /** The line nginx reports: where the terminating `;` or `{` was read. */
  readonly line: number;
  /** Children for `name ... { }`, null for `name ...;`. */
  readonly block: readonly Directive[] | null;
}

/** Every file read while loading, in order, with its text (for `-T`). */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}
