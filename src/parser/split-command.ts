/**
 * Splits one joined instruction line into its name, its leading `--flag` words and
 * the rest, the way BuildKit's splitCommand/extractBuilderFlags do.
 */
import { isSpace, splitWhitespace, trimSpace } from './whitespace.ts';

export interface SplitCommand {
  /** The instruction name as written (case kept). */
  name: string;
  /** `--flag` / `--flag=value` words with quotes and backslashes resolved. */
  flags: string[];
  /** Everything after the flags, trimmed. */
  rest: string;
}

/** Name, flags and arguments of one instruction line. */
export function splitCommand(line: string): SplitCommand {
  const parts = splitWhitespace(trimSpace(line), 2);
  const name = parts[0] ?? '';
  if (parts.length < 2) return { name, flags: [], rest: '' };
  const { rest, flags } = extractFlags(parts[1]!);
  return { name, flags, rest: trimSpace(rest) };
}

type Phase = 'spaces' | 'word' | 'quote';

/**
 * Reads `--flag` words until the first word that does not start with `--`. A bare
 * `--` ends the flags and is dropped. Flags are unquoted (quotes removed, `\x` → `x`),
 * always with a backslash, whatever the escape directive says: BuildKit does the same.
 */
export function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: Phase = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    let ch = atEnd ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        ch = line[pos]!;
      }
      word += ch;
      continue;
    }
    // Inside quotes: the closing quote ends them, a backslash escapes the next character.
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = line[pos]!;
    }
    word += ch;
  }
  return { rest: '', flags };
}
