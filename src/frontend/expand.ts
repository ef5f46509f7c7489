/**
 * Variable expansion for instructions that get it, through the parser's shell-word
 * lexer; lexer errors are re-raised with the instruction's location.
 */
import { ExpansionLimitError } from '../parser/lexer-errors.ts';
import type { ExpansionBudget } from '../parser/limits.ts';
import { processWord, processWords } from '../parser/shell-lexer.ts';
import type { SourceLocation } from '../shared/errors.ts';
import { InvalidInstructionError } from './errors.ts';

export type Lookup = (name: string) => string | undefined;

export interface Expander {
  /** Expand one word (quotes removed, as Docker does). */
  word(text: string): string;
  /** Expand and split into words (EXPOSE). */
  words(text: string): string[];
  /** Expand a heredoc body: quotes and escapes stay as written, only variables expand. */
  heredoc(text: string): string;
  /** Variables referenced but not defined so far (for UndefinedVar warnings). */
  readonly unset: Set<string>;
  /** Variables referenced and defined so far (RedundantTargetPlatform looks at them). */
  readonly used: Set<string>;
}

/** An expander over `lookup` for one instruction. */
export function createExpander(
  lookup: Lookup,
  escapeToken: string,
  location: SourceLocation,
  budget?: ExpansionBudget,
): Expander {
  const opts = budget ? { escapeToken, budget } : { escapeToken };
  const unset = new Set<string>();
  const used = new Set<string>();
  const note = (out: { unset: Set<string>; used: Set<string> }): void => {
    for (const name of out.unset) unset.add(name);
    for (const name of out.used) used.add(name);
  };
  const wrap = <T>(text: string, run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof ExpansionLimitError) {
        throw new ExpansionLimitError(error.what, error.limit, { location, cause: error });
      }
      const message = error instanceof Error ? error.message : String(error);
      const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      throw new InvalidInstructionError(`cannot expand "${shown}": ${message}`, {
        hint: 'Check the ${…} syntax; use \\$ (or the escape character) for a literal dollar sign.',
        location,
        cause: error,
      });
    }
  };
  return {
    unset,
    used,
    word(text) {
      return wrap(text, () => {
        const out = processWord(text, lookup, opts);
        note(out);
        return out.result;
      });
    },
    heredoc(text) {
      return wrap(text, () => {
        const out = processWord(text, lookup, { ...opts, heredoc: true });
        note(out);
        return out.result;
      });
    },
    words(text) {
      return wrap(text, () => {
        const out = processWords(text, lookup, opts);
        note(out);
        return out.words;
      });
    },
  };
}

/** Best-effort expansion for progress text: on a lexer error the text is shown as written. */
export function expandForDisplay(
  text: string,
  lookup: Lookup,
  escapeToken: string,
  budget?: ExpansionBudget,
): string {
  try {
    return processWord(text, lookup, budget ? { escapeToken, budget } : { escapeToken }).result;
  } catch (error) {
    void error;
    return text;
  }
}
