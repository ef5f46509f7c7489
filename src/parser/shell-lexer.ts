/**
 * Shell-word lexer: variable expansion, quote removal and word splitting with the exact
 * behaviour of BuildKit's Dockerfile frontend (`frontend/dockerfile/shell`). Pure: the
 * environment is a lookup function, nothing is read from the process.
 *
 * Supported: `$A ${A} ${A:-w} ${A-w} ${A:+w} ${A+w} ${A:?m} ${A?m} ${A#p} ${A##p}
 * ${A%p} ${A%%p} ${A/p/r} ${A//p/r}`, single and double quotes, and the escape token
 * (`\` by default, `` ` `` with `# escape=``).
 */
import { ExpansionLimitError, ShellSyntaxError, VariableRequiredError } from './lexer-errors.ts';
import { MAX_EXPANDED_WORD } from './limits.ts';
import type { ExpansionBudget } from './limits.ts';
import {
  replaceShellPattern,
  ShellPatternError,
  ShellPatternTooLong,
  trimShellPrefix,
  trimShellSuffix,
} from './shell-pattern.ts';

/** Variable lookup: the value, or undefined when the variable is not set. */
export type ShellEnv = (name: string) => string | undefined;

export interface ExpandOptions {
  /** The Dockerfile escape token: `\` (default) or `` ` ``. */
  escapeToken?: string;
  /** Leave references to unset variables as written (`$X`, `${X:-w}`) instead of expanding. */
  skipUnsetEnv?: boolean;
  /**
   * Heredoc body mode (BuildKit's RawQuotes + RawEscapes): quotes are ordinary characters
   * and an escape token is kept with the character after it, so only `$VAR` expands.
   */
  heredoc?: boolean;
  /**
   * BuildKit's RawQuotes: quotes still decide what expands (nothing inside '…'), but are
   * kept in the result. Step titles in progress are made this way.
   */
  keepQuotes?: boolean;
  /** Largest expanded word, in characters (default MAX_EXPANDED_WORD, 1 MiB). */
  maxWordLength?: number;
  /** The build's total expansion budget: each result is charged to it. */
  budget?: ExpansionBudget;
}

export interface ProcessWordResult {
  result: string;
  /** Variables referenced that were set. */
  used: Set<string>;
  /** Variables referenced that were not set. */
  unset: Set<string>;
}

export interface ProcessWordsResult {
  words: string[];
  used: Set<string>;
  unset: Set<string>;
}

/** Internal failure that does not know the whole word yet; converted at the top level. */
class LexFailure extends Error {
  readonly variable: string | undefined;
  constructor(message: string, variable?: string) {
    super(message);
    this.variable = variable;
  }
}

/** An expansion grew past the word limit; converted to ExpansionLimitError at the top level. */
class WordTooLong extends Error {}

const EOF = '';

function isSpace(ch: string): boolean {
  // Go's unicode.IsSpace: JS \s minus U+FEFF.
  return ch !== '\uFEFF' && /^\s$/u.test(ch);
}

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Accumulates split words the way BuildKit does while the joined result is built. */
class WordCollector {
  word = '';
  words: string[] = [];
  inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(str: string): void {
    // Most values hold no whitespace: append them whole (a 1 MiB value char by char is slow).
    if (!/\s/u.test(str)) {
      if (str.length > 0) this.addRawString(str);
      return;
    }
    for (const ch of str) this.addChar(ch);
  }

  addRawString(str: string): void {
    this.word += str;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  readonly chars: string[];
  pos = 0;
  readonly env: ShellEnv;
  readonly escape: string;
  readonly skipUnset: boolean;
  readonly rawQuotes: boolean;
  readonly keepQuotes: boolean;
  readonly maxWord: number;
  rawEscapes = false;
  readonly used = new Set<string>();
  readonly unset = new Set<string>();

  constructor(word: string, env: ShellEnv, options: ExpandOptions) {
    this.chars = Array.from(word);
    this.env = env;
    this.escape = options.escapeToken ?? '\\';
    this.skipUnset = options.skipUnsetEnv ?? false;
    this.rawQuotes = options.heredoc ?? false;
    this.keepQuotes = options.keepQuotes ?? false;
    this.maxWord = options.maxWordLength ?? MAX_EXPANDED_WORD;
    this.rawEscapes = this.rawQuotes;
  }

  /** `text` when it is within the word limit; checked wherever a value is appended. */
  bounded(text: string): string {
    if (text.length > this.maxWord) throw new WordTooLong();
    return text;
  }

  peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  lookup(name: string): string | undefined {
    const value = this.env(name);
    if (value === undefined) this.unset.add(name);
    else this.used.add(name);
    return value;
  }

  /** Process until `stop` (consumed) or the end of input; `rawEscapes` keeps escape tokens. */
  processUntil(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.scan(stop);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private scan(stop: string): { result: string; words: string[] } {
    let result = '';
    const words = new WordCollector();
    while (this.peek() !== EOF) {
      let ch = this.peek();
      if (stop !== EOF && ch === stop) {
        this.next();
        return { result, words: words.finish() };
      }
      if (ch === '$') {
        const value = this.processDollar();
        result = this.bounded(result + value);
        words.addString(value);
        continue;
      }
      if ((ch === "'" || ch === '"') && !this.rawQuotes) {
        const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        result = this.bounded(result + value);
        words.addRawString(value);
        continue;
      }
      ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) {
          words.addRawChar(ch);
          result += ch;
        }
        // The escape token escapes the next character; at the very end it is dropped.
        ch = this.next();
        if (ch === EOF) break;
        words.addRawChar(ch);
      } else {
        words.addChar(ch);
      }
      result += ch;
    }
    if (stop !== EOF)
      throw new LexFailure(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.finish() };
  }

  private processSingleQuote(): string {
    const opening = this.next();
    const quote = this.keepQuotes ? opening : '';
    let result = quote;
    for (;;) {
      const ch = this.next();
      if (ch === EOF)
        throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result + quote;
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    const opening = this.next();
    const quote = this.keepQuotes ? opening : '';
    let result = quote;
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF)
        throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        return result + quote;
      }
      if (peeked === '$') {
        result = this.bounded(result + this.processDollar());
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        // Inside double quotes only ", $ and the escape token itself can be escaped;
        // any other escape token stays literal. One at the very end is ignored.
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.escape) ch = this.next();
      }
      result += ch;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== EOF && DIGIT.test(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!LETTER_OR_DIGIT.test(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.skipUnset) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':')
      throw new LexFailure('syntax error: bad substitution');
    const name = this.processName();
    const ch = this.next();
    if (ch === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === EOF) throw new LexFailure("syntax error: missing '}'");
    if (ch === '/') return this.processReplace(name);
    if (ch === ':') {
      const modifier = this.next();
      return this.processModifier(name, modifier, true);
    }
    if (ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      return this.processModifier(name, ch, false);
    }
    throw new LexFailure(`unsupported modifier (${ch}) in substitution`);
  }

  /** The `${name<op>word}` forms; `colon` is true for `:-`, `:+`, `:?` (empty counts as unset). */
  private processModifier(name: string, op: string, colon: boolean): string {
    const rawEscapes = op === '#' || op === '%';
    let word: string;
    try {
      word = this.processUntil('}', rawEscapes).result;
    } catch (err) {
      if (err instanceof LexFailure && this.peek() === EOF)
        throw new LexFailure("syntax error: missing '}'");
      throw err;
    }
    const value = this.lookup(name);
    const written = (colon ? ':' : '') + op;
    if (value === undefined && this.skipUnset) return `\${${name}${written}${word}}`;
    const missing = value === undefined || (colon && value === '');
    switch (op) {
      case '-':
        return missing ? word : value!;
      case '+':
        return missing ? '' : word;
      case '?':
        if (value === undefined) throw new LexFailure(word || 'is not allowed to be unset', name);
        if (colon && value === '') throw new LexFailure(word || 'is not allowed to be empty', name);
        return value;
      case '#':
      case '%':
        // BuildKit treats `${A:#p}` like `${A#p}`: the colon has no meaning here.
        return this.trim(value ?? '', word, op);
    }
    throw new LexFailure(`unsupported modifier (${written}) in substitution`);
  }

  private trim(value: string, word: string, op: string): string {
    // A doubled operator (## / %%) asks for the longest match.
    const greedy = word.startsWith(op);
    const pattern = greedy ? word.slice(1) : word;
    try {
      return op === '%'
        ? trimShellSuffix(value, pattern, greedy)
        : trimShellPrefix(value, pattern, greedy);
    } catch (err) {
      throw patternFailure(pattern, err);
    }
  }

  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    let replacement: string;
    try {
      pattern = this.processUntil('/', true).result;
    } catch (err) {
      if (err instanceof LexFailure && this.peek() === EOF)
        throw new LexFailure("syntax error: missing '/' in ${}");
      throw err;
    }
    try {
      replacement = this.processUntil('}', true).result;
    } catch (err) {
      if (err instanceof LexFailure && this.peek() === EOF)
        throw new LexFailure("syntax error: missing '}'");
      throw err;
    }
    const value = this.lookup(name);
    if (value === undefined && this.skipUnset) return `\${${name}/${pattern}/${replacement}}`;
    let replaced: string;
    try {
      replaced = replaceShellPattern(value ?? '', pattern, replacement, all, this.maxWord);
    } catch (err) {
      if (err instanceof ShellPatternTooLong) throw new WordTooLong();
      throw patternFailure(pattern, err);
    }
    return this.bounded(replaced);
  }
}

function patternFailure(pattern: string, err: unknown): LexFailure {
  const detail =
    err instanceof ShellPatternError || err instanceof SyntaxError ? err.message : String(err);
  return new LexFailure(`invalid pattern (${pattern}) in substitution: ${detail}`);
}

/** The start of a word, for messages (a word may be megabytes long). */
function quoteStart(word: string): string {
  return JSON.stringify(word.length > 60 ? `${word.slice(0, 60)}…` : word);
}

function run(
  word: string,
  env: ShellEnv,
  options: ExpandOptions,
): { result: string; words: string[]; lexer: Lexer } {
  const lexer = new Lexer(word, env, options);
  try {
    const { result, words } = lexer.processUntil(EOF, lexer.rawQuotes);
    const budget = options.budget;
    if (budget) {
      budget.remaining -= result.length;
      if (budget.remaining < 0)
        throw new ExpansionLimitError('the total expansion of the Dockerfile', budget.total);
    }
    return { result, words, lexer };
  } catch (err) {
    if (err instanceof WordTooLong)
      throw new ExpansionLimitError(`expanding ${quoteStart(word)}`, lexer.maxWord, { cause: err });
    if (!(err instanceof LexFailure)) throw err;
    if (err.variable !== undefined)
      throw new VariableRequiredError(word, err.variable, err.message, { cause: err });
    throw new ShellSyntaxError(word, err.message, { cause: err });
  }
}

/**
 * Expand variables and remove quotes in one word, keeping whitespace (BuildKit's
 * ProcessWord). Throws ShellSyntaxError or VariableRequiredError.
 */
export function processWord(
  word: string,
  env: ShellEnv,
  options: ExpandOptions = {},
): ProcessWordResult {
  const { result, lexer } = run(word, env, options);
  return { result, used: lexer.used, unset: lexer.unset };
}

/**
 * Expand variables, then split on unquoted whitespace (BuildKit's ProcessWords): spaces
 * that come from a variable's value split words unless the reference was quoted.
 */
export function processWords(
  text: string,
  env: ShellEnv,
  options: ExpandOptions = {},
): ProcessWordsResult {
  const { words, lexer } = run(text, env, options);
  return { words, used: lexer.used, unset: lexer.unset };
}

/** Build a lookup from `KEY=VALUE` strings (a bare `KEY` is set to ""); the last one wins. */
export function envFromList(env: string[]): ShellEnv {
  const map = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq < 0) map.set(entry, '');
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return (name) => map.get(name);
}
