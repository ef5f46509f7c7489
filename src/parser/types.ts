/**
 * Syntax-level parse of a Dockerfile: what BuildKit's parser produces, before any
 * instruction semantics. Pure data; line numbers are 1-based.
 */
import type { LineRange } from '../shared/errors.ts';

export type { LineRange };

export interface Heredoc {
  /** The delimiter word, e.g. `EOF`. */
  name: string;
  /** Body, with a trailing newline per line; tabs stripped for `<<-`. */
  content: string;
  /** False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): no variable expansion. */
  expand: boolean;
  /** True for `<<-`. */
  chomp: boolean;
  /** File descriptor for `3<<EOF` forms; undefined for plain `<<EOF`. */
  fileDescriptor?: number;
}

/** One instruction as written. */
export interface Instruction {
  /** Upper-case instruction name: `RUN`, `COPY`, … (unknown names are kept as written, upper-cased). */
  name: string;
  /** The whole instruction text after line joining (comments inside continuations removed). */
  original: string;
  /** Leading `--flag` / `--flag=value` words, as written. */
  flags: string[];
  /**
   * Arguments after line joining, before variable expansion. Exec (JSON) form: the JSON
   * array's strings. Shell form: one string. ENV/LABEL: alternating names and values.
   * FROM/ARG/EXPOSE/VOLUME(shell)/…: whitespace-separated words, as BuildKit splits them.
   */
  args: string[];
  /** True when the arguments were a JSON array (exec form). */
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD: the wrapped instruction. */
  next?: Instruction;
  range: LineRange;
}

export interface ParseWarning {
  message: string;
  range?: LineRange;
  /** Short rule name as BuildKit's checks name them, e.g. `JSONArgsRecommended`. */
  rule?: string;
}

export interface ParseResult {
  /** Parser directives found at the top: `syntax`, `escape`, `check`. Lower-case keys. */
  directives: Record<string, string>;
  /** The escape character in force (`\` or `` ` ``). */
  escapeToken: string;
  instructions: Instruction[];
  warnings: ParseWarning[];
}
