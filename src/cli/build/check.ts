/**
 * `tbuild build --check` / `--call=check[,format=json]`: run the Dockerfile's build checks
 * without building, and print them as `docker buildx build --check` does: each warning
 * with its rule, documentation URL, message and the Dockerfile lines it points at.
 * Warnings or an error make the command fail (exit 1), as buildx's do.
 */
import type { CheckResult, FrontendWarning } from '../../builder/index.ts';
import { UsageError } from '../../shared/errors.ts';
import { QuietFailure } from '../errors.ts';

export interface CheckRequest {
  readonly format: 'text' | 'json';
}

/**
 * `--call` (buildx's name for what the frontend is asked) and `--check` (its shorthand):
 * undefined for a plain build, else how to print the checks.
 */
export function parseCallOption(
  call: string | undefined,
  check: boolean,
): CheckRequest | undefined {
  if (check) return { format: 'text' };
  if (call === undefined) return undefined;
  const [name = '', ...attrs] = call.split(',');
  let format: CheckRequest['format'] = 'text';
  for (const attr of attrs) {
    const [key, value] = attr.split('=', 2);
    if (key !== 'format' || (value !== 'text' && value !== 'json'))
      throw new UsageError(`invalid --call attribute "${attr}"`, {
        hint: 'Use --call=check or --call=check,format=json.',
      });
    format = value;
  }
  if (name === 'build' && attrs.length === 0) return undefined;
  if (name === 'check' || name === 'lint') return { format };
  throw new UsageError(`--call=${name} is not supported`, {
    hint: 'tbuild answers --call=build (the default) and --call=check (or --check).',
  });
}

/** Print a check's result to `write`; throws what makes the command fail. */
export function printChecks(
  request: CheckRequest,
  result: CheckResult,
  source: { text: string; name: string },
  write: (text: string) => void,
): void {
  if (request.format === 'json') write(JSON.stringify(toBuildxJson(result), null, 2) + '\n');
  else write(formatChecks(result, source));
  // The error (a Dockerfile error, or error=true tripping) is printed as errors are.
  if (result.error) throw result.error;
  if (result.warnings.length > 0) throw new QuietFailure(1);
}

/** The text buildx prints: a summary line, then each warning sorted by line. */
export function formatChecks(result: CheckResult, source: { text: string; name: string }): string {
  const count = result.warnings.length;
  let out = '';
  if (count > 0) {
    out += `Check complete, ${count === 1 ? '1 warning has' : `${count} warnings have`} been found!\n`;
  }
  for (const warning of sortByLine(result.warnings)) {
    out += `\nWARNING: ${warning.rule}${warning.url ? ` - ${warning.url}` : ''}\n${warning.message}\n`;
    const range = warning.location?.range;
    if (range) out += formatSource(source, range.start, range.end);
  }
  if (result.error) {
    if (count > 0) out += '\n';
  } else if (count === 0) {
    out += 'Check complete, no warnings found.\n';
  }
  return out;
}

/** By first line, keeping the order found within a line. */
function sortByLine(warnings: readonly FrontendWarning[]): FrontendWarning[] {
  const line = (w: FrontendWarning) => w.location?.range?.start ?? 0;
  return [...warnings].sort((a, b) => line(a) - line(b));
}

/**
 * BuildKit's source excerpt (errdefs.Source.Print): the lines marked `>>>`, with two
 * lines of context around one line, one around several.
 */
export function formatSource(
  source: { text: string; name: string },
  first: number,
  last: number,
): string {
  const lines = source.text.split('\n');
  if (first < 1 || first > lines.length) return '';
  let start = first;
  let end = Math.min(last, lines.length);
  const pad = end === start ? 4 : 2;
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  let out = `${source.name}:${first}\n--------------------\n`;
  for (let n = start; n <= end; n++) {
    const marker = n >= first && n <= last ? '>>>' : '   ';
    out += ` ${String(n).padStart(3)} | ${marker} ${lines[n - 1]}\n`;
  }
  return out + '--------------------\n';
}

/** buildx's `--call=check,format=json` document (lint.LintResults). */
function toBuildxJson(result: CheckResult): object {
  const location = (range?: { start: number; end: number }) =>
    range ? { ranges: [{ start: { line: range.start }, end: { line: range.end } }] } : undefined;
  return {
    warnings: result.warnings.map((w) => ({
      ruleName: w.rule,
      description: w.description,
      ...(w.url ? { url: w.url } : {}),
      detail: w.message,
      ...(w.location?.range ? { location: location(w.location.range) } : {}),
    })),
    ...(result.error
      ? {
          buildError: {
            message: result.error.message,
            ...(result.error.location?.range
              ? { location: location(result.error.location.range) }
              : {}),
          },
        }
      : {}),
  };
}
