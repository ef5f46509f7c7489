/**
 * How errors reach a person: known (typed) errors in one line, the Dockerfile lines they
 * point at (as docker shows them) and a hint; unknown ones with their stack, since they
 * are bugs.
 */
import { isTbuildError, OutputClosedError, UsageError, type LineRange } from '../shared/errors.ts';

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
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    text: `ERROR (internal): ${err.stack ?? err.message}\nThis is a bug in tbuild; please report it.`,
    code: 1,
  };
}

function formatRange(range: LineRange): string {
  return range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`;
}

/** Docker's error excerpt: the failing lines marked `>>>`, with two lines of context before. */
export function formatSnippet(file: string, source: string, range: LineRange): string[] {
  const all = source.split(/\r?\n/);
  const first = Math.max(1, range.start - 2);
  const last = Math.min(all.length, range.end);
  const width = String(last).length;
  const out = ['------', `${file}:${formatRange(range)}`, '--------------------'];
  for (let n = first; n <= last; n++) {
    const marker = n >= range.start ? '>>>' : '   ';
    out.push(` ${String(n).padStart(width)} | ${marker} ${all[n - 1] ?? ''}`);
  }
  out.push('--------------------');
  return out;
}
