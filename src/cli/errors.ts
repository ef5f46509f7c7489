/**
 * How errors reach a person: known (typed) errors in one line, the Dockerfile lines they
 * point at (as docker shows them) and a hint; unknown ones with their stack, since they
 * are bugs.
 */
import {
  DiskFullError,
  isDiskFull,
  isTbuildError,
  OutputClosedError,
  UsageError,
  type LineRange,
} from '../shared/errors.ts';

/** A failure of the argument parser (unknown option, missing argument): a usage error. */
export function parserFailure(message: string): UsageError {
  return new UsageError(message, { hint: "Run 'tbuild --help' for the commands and flags." });
}

/** The command failed and has already said why (e.g. `--check` found warnings): exit quietly. */
export class QuietFailure extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export function formatError(error: unknown): { text: string; code: number } {
  if (error instanceof QuietFailure) return { text: '', code: error.exitCode };
  // The reader of stdout went away (`| head`): end quietly, as a SIGPIPE'd tool does.
  if (error instanceof OutputClosedError) return { text: '', code: error.exitCode };
  if (isTbuildError(error)) {
    const lines = [`ERROR: ${error.message}`];
    const loc = error.location;
    if (loc?.range) {
      const file = loc.file ?? 'Dockerfile';
      // The builder attaches the Dockerfile's text to errors that point into it.
      const source = error.source?.file === file ? error.source.text : undefined;
      if (source === undefined) lines.push(`  at ${file}:${formatRange(loc.range)}`);
      else lines.push(...formatSnippet(file, source, loc.range));
    }
    if (error.hint) lines.push(`  hint: ${error.hint}`);
    if (process.env.TBUILD_DEBUG) {
      for (let e: unknown = error; e instanceof Error; e = e.cause) lines.push(String(e.stack));
    }
    return { text: lines.join('\n'), code: error.exitCode };
  }
  if (isDiskFull(error)) {
    // A full disk met outside the store's own writes (an output file, the database).
    const path = (error as { path?: string }).path;
    const doing = path ? `writing ${path}` : (error as Error).message;
    return formatError(
      new DiskFullError(path ?? 'the store or the output', doing, { cause: error }),
    );
  }
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    text: `ERROR (internal): ${err.stack ?? err.message}\nThis is a bug in tbuild; please report it.`,
    code: 1,
  };
}

function formatRange(range: LineRange): string {
  return range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`;
}

/** Lines of a long range shown at each end; the middle is summarised in one line. */
const SNIPPET_EDGE_LINES = 5;
/** Characters shown of one line; the rest is summarised. */
const SNIPPET_LINE_CHARS = 240;

/**
 * Docker's error excerpt: the failing lines marked `>>>`, with two lines of context before.
 * A long range (an instruction of 150,000 continuation lines) shows its first and last
 * lines only, and long lines are cut, so the excerpt stays readable and small.
 */
export function formatSnippet(file: string, source: string, range: LineRange): string[] {
  const first = Math.max(1, range.start - 2);
  const all = linesBetween(source, first, range.end);
  const last = first + all.length - 1;
  const width = String(last).length;
  const out = ['------', `${file}:${formatRange(range)}`, '--------------------'];
  const skipFrom = range.start + SNIPPET_EDGE_LINES;
  const skipTo = last - SNIPPET_EDGE_LINES;
  for (let n = first; n <= last; n++) {
    if (n === skipFrom && skipTo - skipFrom > 1) {
      out.push(` ${' '.repeat(width)} | >>> … ${skipTo - skipFrom + 1} more lines …`);
      n = skipTo;
      continue;
    }
    const marker = n >= range.start ? '>>>' : '   ';
    out.push(` ${String(n).padStart(width)} | ${marker} ${cutLine(all[n - first] ?? '')}`);
  }
  out.push('--------------------');
  return out;
}

/** Lines `from`..`to` (1-based) of `text`, found without splitting the whole file. */
function linesBetween(text: string, from: number, to: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let n = 1; n <= to && start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (n >= from) out.push(text.slice(start, end).replace(/\r$/, ''));
    start = end + 1;
  }
  return out;
}

function cutLine(line: string): string {
  if (line.length <= SNIPPET_LINE_CHARS) return line;
  return `${line.slice(0, SNIPPET_LINE_CHARS)}… (${line.length - SNIPPET_LINE_CHARS} more characters)`;
}
