/**
 * Per-instruction argument parsers: the same dispatch table as BuildKit's
 * line_parsers.go, so that `args` and `json` come out exactly as BuildKit's AST has them.
 */
import { LineSyntaxError } from './errors.ts';
import { decodeJsonStringArray } from './json-args.ts';
import { splitCommand } from './split-command.ts';
import type { Instruction } from './types.ts';
import { isSpace, splitWhitespace, trimLeftSpace } from './whitespace.ts';

/** What a line parser extracts from the text after the flags. */
export interface ParsedArgs {
  args: string[];
  json: boolean;
  next?: Instruction;
}

type LineParser = (rest: string, escapeToken: string) => ParsedArgs;

const NO_ARGS: ParsedArgs = { args: [], json: false };

/** Words separated by whitespace; quotes and escapes are kept, as parseWords does. */
export function parseWords(rest: string, escapeToken: string): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : chars[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      } else if (ch === escapeToken) {
        // An escape keeps itself and the next character, even a quote.
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
    } else if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `KEY value…` (old form) or `k=v k2="v 2"`; values keep their quotes. */
function parseNameVal(rest: string, escapeToken: string, key: string): ParsedArgs {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return NO_ARGS;
  if (!words[0]!.includes('=')) {
    const parts = splitWhitespace(rest, 2);
    if (parts.length < 2) {
      throw new LineSyntaxError(
        `${key} must have two arguments`,
        `Give ${key} a value: \`${key} ${parts[0]}=value\` (or \`${key} ${parts[0]} value\`).`,
      );
    }
    return { args: parts, json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new LineSyntaxError(
        `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
        `Write every ${key} pair as name=value, e.g. \`${key} ${word}=value\`; quote values that contain spaces.`,
      );
    }
    args.push(word.slice(0, eq), word.slice(eq + 1));
  }
  return { args, json: false };
}

/** FROM, EXPOSE and the non-JSON form of COPY/ADD/VOLUME: whitespace-separated words. */
function parseWhitespaceDelimited(rest: string): ParsedArgs {
  return rest === '' ? NO_ARGS : { args: splitWhitespace(rest), json: false };
}

/** MAINTAINER, USER, WORKDIR, STOPSIGNAL: the rest as one string. */
function parseString(rest: string): ParsedArgs {
  return rest === '' ? NO_ARGS : { args: [rest], json: false };
}

/** A JSON array of strings, or undefined when `rest` is not JSON at all. */
function parseJson(rest: string): ParsedArgs | undefined {
  const decoded = decodeJsonStringArray(trimLeftSpace(rest));
  if (decoded === 'not-json') return undefined;
  if (decoded === 'not-strings') {
    throw new LineSyntaxError(
      'when using JSON array syntax, arrays must be comprised of strings only',
      'Quote every element of the JSON array, e.g. ["sleep", "10"], or use the shell form without brackets.',
    );
  }
  return { args: decoded, json: true };
}

/** RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the rest as one shell string. */
function parseMaybeJson(rest: string): ParsedArgs {
  if (rest === '') return NO_ARGS;
  return parseJson(rest) ?? { args: [rest], json: false };
}

/** COPY, ADD, VOLUME: a JSON array, else whitespace-separated words. */
function parseMaybeJsonToList(rest: string): ParsedArgs {
  return parseJson(rest) ?? parseWhitespaceDelimited(rest);
}

/** HEALTHCHECK: a type word (`CMD`, `NONE`) and then what CMD takes. */
function parseHealthConfig(rest: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return NO_ARGS;
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const command = parseMaybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
}

/** ONBUILD: the wrapped instruction, parsed like a line of its own. */
function parseSubCommand(rest: string, escapeToken: string): ParsedArgs {
  if (rest === '') return NO_ARGS;
  return { args: [], json: false, next: buildInstruction(rest, escapeToken) };
}

/** SHELL has no shell form: BuildKit rejects anything but a JSON array. */
function parseShell(rest: string): ParsedArgs {
  const parsed = parseMaybeJson(rest);
  if (!parsed.json) {
    throw new LineSyntaxError(
      'SHELL requires the arguments to be in JSON form',
      'Write SHELL as a JSON array, e.g. SHELL ["/bin/bash", "-c"].',
    );
  }
  return parsed;
}

const dispatch = new Map<string, LineParser>(
  Object.entries({
    add: parseMaybeJsonToList,
    arg: (rest, escapeToken) => ({ args: parseWords(rest, escapeToken), json: false }),
    cmd: parseMaybeJson,
    copy: parseMaybeJsonToList,
    entrypoint: parseMaybeJson,
    env: (rest, escapeToken) => parseNameVal(rest, escapeToken, 'ENV'),
    expose: parseWhitespaceDelimited,
    from: parseWhitespaceDelimited,
    healthcheck: parseHealthConfig,
    label: (rest, escapeToken) => parseNameVal(rest, escapeToken, 'LABEL'),
    maintainer: parseString,
    onbuild: parseSubCommand,
    run: parseMaybeJson,
    shell: parseShell,
    stopsignal: parseString,
    user: parseString,
    volume: parseMaybeJsonToList,
    workdir: parseString,
  } satisfies Record<string, LineParser>),
);

/** Instruction names BuildKit knows, upper-case. */
export const INSTRUCTION_NAMES: readonly string[] = Array.from(dispatch.keys(), (name) =>
  name.toUpperCase(),
);

/**
 * One joined instruction line → an Instruction without heredocs and with a placeholder
 * range (the caller knows the lines). Unknown names parse with no arguments.
 */
export function buildInstruction(line: string, escapeToken: string): Instruction {
  const { name, flags, rest } = splitCommand(line);
  const parse = dispatch.get(name.toLowerCase());
  const parsed = parse ? parse(rest, escapeToken) : NO_ARGS;
  const instruction: Instruction = {
    name: name.toUpperCase(),
    original: line,
    flags,
    args: [...parsed.args],
    json: parsed.json,
    heredocs: [],
    range: { start: 0, end: 0 },
  };
  if (parsed.next) instruction.next = parsed.next;
  return instruction;
}
