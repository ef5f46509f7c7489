/**
 * Dockerfile text → instructions with line ranges, as BuildKit's parser does it:
 * directives at the top, comments, line continuations with the escape token, heredoc
 * bodies, and the per-instruction argument forms. Pure: no I/O, and the only error it
 * throws is a DockerfileParseError.
 */
import { continuationPattern, createDirectiveState, readDirectiveLine } from './directives.ts';
import type { DirectiveState } from './directives.ts';
import { DockerfileParseError, LineSyntaxError } from './errors.ts';
import { chompHeredocContent, findHeredocs } from './heredoc.ts';
import { buildInstruction } from './line-parsers.ts';
import { MAX_DOCKERFILE_BYTES } from './limits.ts';
import type { Heredoc, Instruction, LineRange, ParseResult, ParseWarning } from './types.ts';
import { trimLeftSpace, trimNewline } from './whitespace.ts';

export interface ParseOptions {
  /** The Dockerfile's path, used in error locations. */
  file?: string;
}

/** Reads the file line by line; line numbers are 1-based. */
class LineReader {
  readonly lines: string[];
  /** Lines consumed so far, which is also the number of the last line read. */
  position = 0;

  constructor(text: string) {
    // Keep line endings: heredoc bodies are copied byte for byte.
    this.lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
    if (this.lines[0]?.startsWith('\uFEFF')) this.lines[0] = this.lines[0].slice(1);
  }

  next(): string | undefined {
    if (this.position >= this.lines.length) return undefined;
    return this.lines[this.position++];
  }
}

interface ParserState {
  reader: LineReader;
  directives: DirectiveState;
  continuation: RegExp;
  options: ParseOptions;
  warnings: ParseWarning[];
}

/**
 * Parses a Dockerfile into instructions, the way BuildKit's frontend parser does.
 * Unknown instruction names are kept (the instruction layer rejects them).
 * @throws DockerfileParseError with the offending line range and a hint.
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): ParseResult {
  checkSize(text, options.file);
  const state: ParserState = {
    reader: new LineReader(text),
    directives: createDirectiveState(),
    continuation: continuationPattern('\\'),
    options,
    warnings: [],
  };
  const instructions: Instruction[] = [];
  for (;;) {
    const instruction = readInstruction(state);
    if (instruction === null) break;
    if (instruction) instructions.push(instruction);
  }
  if (instructions.length === 0) {
    const last = Math.max(1, state.reader.lines.length);
    throw new DockerfileParseError('the Dockerfile has no instructions', {
      range: { start: last, end: last },
      hint: 'Add at least a FROM instruction, e.g. `FROM alpine:3.20` (comments and parser directives do not count).',
      ...fileOf(options),
    });
  }
  return {
    directives: { ...state.directives.directives },
    escapeToken: state.directives.escapeToken,
    instructions,
    warnings: [...state.warnings],
  };
}

/** The next instruction; undefined for a blank or comment line, null at the end of the file. */
function readInstruction(state: ParserState): Instruction | undefined | null {
  const { reader } = state;
  const raw = reader.next();
  if (raw === undefined) return null;
  const startLine = reader.position;
  const first = trimLeftSpace(trimNewline(raw));
  withRange(state, { start: startLine, end: startLine }, () => {
    if (readDirectiveLine(state.directives, first)) {
      state.continuation = continuationPattern(state.directives.escapeToken);
    }
  });
  if (isComment(first)) return undefined;
  let [line, ended] = trimContinuation(state, first);
  if (ended && line === '') return undefined;
  let hasEmptyContinuationLine = false;
  while (!ended) {
    const next = reader.next();
    if (next === undefined) break;
    const continued = trimNewline(next);
    if (isComment(continued)) continue;
    if (trimLeftSpace(continued) === '') {
      hasEmptyContinuationLine = true;
      continue;
    }
    let piece: string;
    [piece, ended] = trimContinuation(state, continued);
    line += piece;
  }
  const range = { start: startLine, end: reader.position };
  if (hasEmptyContinuationLine) {
    // BuildKit points at the instruction's last line.
    state.warnings.push({
      rule: 'NoEmptyContinuation',
      message: `Empty continuation line found in: ${line}`,
      range: { start: range.end, end: range.end },
    });
  }
  const instruction = withRange(state, range, () =>
    buildInstruction(line, state.directives.escapeToken),
  );
  const heredocs =
    canContainHeredoc(instruction) && line.includes('<<') ? readHeredocs(state, line, range) : [];
  placeInstruction(instruction, { start: startLine, end: reader.position }, heredocs);
  return instruction;
}

/** Gives an instruction and the ones ONBUILD wraps their lines and heredoc bodies. */
function placeInstruction(instruction: Instruction, range: LineRange, heredocs: Heredoc[]): void {
  instruction.range = { ...range };
  instruction.heredocs = heredocs.map((heredoc) => ({ ...heredoc }));
  if (instruction.next) placeInstruction(instruction.next, range, heredocs);
}

/** Reads each heredoc body after the instruction, in the order the line opens them. */
function readHeredocs(state: ParserState, line: string, range: LineRange): Heredoc[] {
  const opened = withRange(state, range, () => findHeredocs(line));
  return opened.map((heredoc) => {
    let content = '';
    for (;;) {
      const raw = state.reader.next();
      if (raw === undefined) {
        throw new DockerfileParseError(`unterminated heredoc ${heredoc.name}`, {
          range: { start: range.start, end: Math.max(range.start, state.reader.position) },
          hint: `End the heredoc with a line that holds only ${heredoc.name}${heredoc.chomp ? ' (leading tabs allowed)' : ''}.`,
          ...fileOf(state.options),
        });
      }
      let candidate = trimNewline(raw);
      if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === heredoc.name) break;
      content += raw;
    }
    return { ...heredoc, content: heredoc.chomp ? chompHeredocContent(content) : content };
  });
}

/** RUN, COPY and ADD in shell form (also under ONBUILD) may open heredocs. */
function canContainHeredoc(instruction: Instruction): boolean {
  const target =
    instruction.name === 'ONBUILD' && instruction.next ? instruction.next : instruction;
  return ['RUN', 'COPY', 'ADD'].includes(target.name) && !target.json;
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

/** Removes a trailing escape token; the flag says whether the instruction ends here. */
function trimContinuation(state: ParserState, line: string): [string, boolean] {
  if (!state.continuation.test(line)) return [line, true];
  return [line.replace(state.continuation, '$1'), false];
}

/** Runs a step whose LineSyntaxError should point at `range`. */
function withRange<T>(state: ParserState, range: LineRange, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (!(error instanceof LineSyntaxError)) throw error;
    throw new DockerfileParseError(error.message, {
      range: { ...range },
      hint: error.hint,
      ...fileOf(state.options),
    });
  }
}

function fileOf(options: ParseOptions): { file?: string } {
  return options.file === undefined ? {} : { file: options.file };
}

/** A Dockerfile larger than MAX_DOCKERFILE_BYTES is refused before it is read line by line. */
function checkSize(text: string, file: string | undefined): void {
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: count bytes only when it matters.
  if (text.length * 3 <= MAX_DOCKERFILE_BYTES) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_DOCKERFILE_BYTES) return;
  throw new DockerfileParseError(
    `${file ?? 'Dockerfile'} is ${(bytes / 2 ** 20).toFixed(1)} MiB; tbuild reads Dockerfiles of at most ${MAX_DOCKERFILE_BYTES / 2 ** 20} MiB`,
    {
      range: { start: 1, end: 1 },
      hint: 'Keep data out of the Dockerfile: COPY it from the build context instead.',
      ...(file === undefined ? {} : { file }),
    },
  );
}
