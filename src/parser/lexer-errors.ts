/**
 * Errors raised by the shell-word lexer (variable expansion and quote removal). The
 * instruction layer adds the Dockerfile location when it rethrows or wraps them.
 */
import { TbuildError } from '../shared/errors.ts';
import type { TbuildErrorOptions } from '../shared/errors.ts';

/** A word that BuildKit's lexer rejects: unbalanced quotes, `${` without `}`, `${}`, bad modifiers. */
export class ShellSyntaxError extends TbuildError {
  /** The word as written, before expansion. */
  readonly word: string;

  constructor(word: string, detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_SHELL_SYNTAX', `failed to process ${JSON.stringify(word)}: ${detail}`, {
      hint: 'Check the quotes and ${...} braces in this word; write \\$ for a literal dollar sign.',
      ...options,
    });
    this.word = word;
  }
}

/** `${NAME?message}` / `${NAME:?message}` with NAME unset (or empty for the `:?` form). */
export class VariableRequiredError extends TbuildError {
  readonly word: string;
  readonly variable: string;

  constructor(word: string, variable: string, message: string, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_VARIABLE_REQUIRED',
      `failed to process ${JSON.stringify(word)}: ${variable}: ${message}`,
      {
        hint: `Set ${variable} with ARG/ENV or pass --build-arg ${variable}=<value>.`,
        ...options,
      },
    );
    this.word = word;
    this.variable = variable;
  }
}

/** An expansion that would exceed the limits (see limits.ts): one word, or the whole Dockerfile. */
export class ExpansionLimitError extends TbuildError {
  readonly what: string;
  readonly limit: number;

  constructor(what: string, limit: number, options: TbuildErrorOptions = {}) {
    super('TBUILD_EXPANSION_LIMIT', `${what} exceeds tbuild's limit of ${formatBytes(limit)}`, {
      hint: 'A variable that expands into itself several times grows exponentially; put large data in a file in the build context instead of ARG/ENV/LABEL values.',
      ...options,
    });
    this.what = what;
    this.limit = limit;
  }
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}
