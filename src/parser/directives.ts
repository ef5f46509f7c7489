/**
 * Parser directives (`# syntax=…`, `# escape=…`, `# check=…`). BuildKit reads them only
 * from the very first lines: the first line that is not a known directive (a blank line,
 * another comment, an instruction, even `# unknown=x`) ends the search for good.
 */
import { LineSyntaxError } from './errors.ts';

const DIRECTIVE =
  /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/** The directive scanner's state while the top of the file is read. */
export interface DirectiveState {
  /** Directives found so far, lower-case keys. */
  directives: Record<string, string>;
  escapeToken: string;
  /** Set once a line is not a directive: later lines are never directives. */
  done: boolean;
}

/** Fresh state: no directives, backslash as escape token. */
export function createDirectiveState(): DirectiveState {
  return { directives: {}, escapeToken: '\\', done: false };
}

/**
 * Looks at one line (newline and leading whitespace removed) while directives may still
 * appear; records a directive or ends the search. Throws LineSyntaxError for a repeated
 * directive or an invalid escape token. Returns true when the line was a directive.
 */
export function readDirectiveLine(state: DirectiveState, line: string): boolean {
  if (state.done) return false;
  const match = DIRECTIVE.exec(line);
  const key = match?.[1]?.toLowerCase();
  if (!match || key === undefined || !KNOWN_DIRECTIVES.has(key)) {
    state.done = true;
    return false;
  }
  const value = match[2]!;
  if (Object.hasOwn(state.directives, key)) {
    throw new LineSyntaxError(
      `only one ${key} parser directive can be used`,
      `Remove the repeated \`# ${key}=\` line; each parser directive may appear once.`,
    );
  }
  if (key === 'escape' && value !== '\\' && value !== '`') {
    throw new LineSyntaxError(
      `invalid escape token '${value}' does not match \` or \\`,
      'Use `# escape=\\` (the default) or `# escape=`` ` (backtick, common on Windows).',
    );
  }
  state.directives[key] = value;
  if (key === 'escape') state.escapeToken = value;
  return true;
}

/** The continuation test for an escape token: the token last on the line, not escaped. */
export function continuationPattern(escapeToken: string): RegExp {
  const e = escapeToken === '`' ? '`' : '\\\\';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}
