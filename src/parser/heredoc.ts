/**
 * Heredoc detection for RUN, COPY and ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`).
 * BuildKit splits the joined line into shell words (quotes kept) and treats every word
 * of the form `[n]<<[-]WORD` as a heredoc, so `RUN cat <<EOF > /x` works and
 * `RUN echo "<<EOF"` does not start one.
 */
import { LineSyntaxError } from './errors.ts';
import type { Heredoc } from './types.ts';
import { isSpace } from './whitespace.ts';

/** How the small word lexer treats quotes: kept (raw) or removed. */
interface LexOptions {
  rawQuotes: boolean;
  rawEscapes: boolean;
}

/** Thrown when a word has an unterminated quote or `${`. */
class UnterminatedError extends Error {}

/**
 * Splits text into shell words the way BuildKit's lexer does with no variables set:
 * `$VAR` and `${…}` stay as written, quotes and backslash escapes are kept or resolved.
 */
function lexWords(text: string, options: LexOptions): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const take = (s: string): void => {
    word += s;
    inWord = true;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (isSpace(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (ch === "'" || ch === '"') {
      const close = findClosingQuote(text, i);
      const inner = text.slice(i + 1, close);
      const body = ch === '"' ? resolveDoubleQuoted(inner, options.rawEscapes) : inner;
      take(options.rawQuotes ? ch + body + ch : body);
      i = close + 1;
    } else if (ch === '\\') {
      if (i + 1 < text.length) take(options.rawEscapes ? text.slice(i, i + 2) : text[i + 1]!);
      i += 2;
    } else if (ch === '$' && text[i + 1] === '{') {
      const close = findClosingBrace(text, i + 2);
      take(text.slice(i, close + 1));
      i = close + 1;
    } else {
      take(ch);
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function findClosingQuote(text: string, open: number): number {
  const quote = text[open];
  for (let i = open + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  throw new UnterminatedError(quote === '"' ? 'double-quote' : 'single-quote');
}

function findClosingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  throw new UnterminatedError("'}'");
}

/** Inside double quotes a backslash escapes only `"`, `$`, `` ` `` and itself. */
function resolveDoubleQuoted(inner: string, rawEscapes: boolean): string {
  if (rawEscapes) return inner;
  return inner.replace(/\\(["$`\\])/g, '$1');
}

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;

/** A heredoc from one shell word such as `<<-"EOF"`, or undefined if it is not one. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match || match[3] === '') return undefined;
  const rest = match[3]!;
  let words: string[];
  let rawWords: string[];
  try {
    words = lexWords(rest, { rawQuotes: false, rawEscapes: false });
    rawWords = lexWords(rest, { rawQuotes: true, rawEscapes: false });
  } catch (error) {
    if (!(error instanceof UnterminatedError)) throw error;
    throw new LineSyntaxError(
      `unexpected end of statement while looking for matching ${error.message} in heredoc ${JSON.stringify(word)}`,
      'Close the quote around the heredoc delimiter, e.g. <<"EOF".',
    );
  }
  if (words.length !== 1 || rawWords.length !== 1) return undefined;
  const name = words[0]!;
  // Any quoting in the delimiter turns expansion off, as in a POSIX shell.
  const expand = countQuotes(name) === countQuotes(rawWords[0]!);
  const heredoc: Omit<Heredoc, 'content'> = { name, expand, chomp: match[2] === '-' };
  const fd = Number(match[1]);
  if (match[1] !== '' && Number.isSafeInteger(fd)) heredoc.fileDescriptor = fd;
  return heredoc;
}

function countQuotes(text: string): number {
  let count = 0;
  for (const ch of text) if (ch === '"' || ch === "'") count++;
  return count;
}

/** Every heredoc a joined instruction line opens, in order. */
export function findHeredocs(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = lexWords(line, { rawQuotes: true, rawEscapes: true });
  } catch (error) {
    // BuildKit ignores a line it cannot split into words: it then opens no heredoc.
    if (error instanceof UnterminatedError) return [];
    throw error;
  }
  const heredocs: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) heredocs.push(heredoc);
  }
  return heredocs;
}

/** Strips leading tabs from every line of a `<<-` body. */
export function chompHeredocContent(content: string): string {
  // Line by line rather than /^\t+/gm: JavaScript's `^` also matches after a lone `\r`.
  return content
    .split('\n')
    .map((line) => line.replace(/^\t+/, ''))
    .join('\n');
}
