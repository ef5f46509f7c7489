/**
 * How errors reach a person: known (typed) errors in one line plus the Dockerfile
 * location and a hint; unknown ones with their stack, since they are bugs.
 */
import { isTbuildError } from '../shared/errors.ts';

/** A yargs validation failure (unknown option, missing argument). */
export class CliUsageFailure extends Error {}

export function formatError(error: unknown): { text: string; code: number } {
  if (error instanceof CliUsageFailure) {
    return { text: `ERROR: ${error.message}\nSee 'tbuild --help'.`, code: 125 };
  }
  if (isTbuildError(error)) {
    const lines = [`ERROR: ${error.message}`];
    const loc = error.location;
    if (loc?.range) {
      const where =
        loc.range.start === loc.range.end
          ? `line ${loc.range.start}`
          : `lines ${loc.range.start}-${loc.range.end}`;
      lines.push(`  at ${loc.file ?? 'Dockerfile'}:${where}`);
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
