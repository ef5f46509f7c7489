/**
 * The job summary ($GITHUB_STEP_SUMMARY): the image, its digest, tags, size and where it
 * was pushed, then every step, cached or run, with its duration and why it missed the
 * cache. Markdown with HTML cells, so that `|` and backticks in step names stay text.
 */
import type { BuildResult, StepResult } from '../builder/index.ts';
import { isTbuildError } from '../shared/errors.ts';

export interface SummaryFacts {
  tags: readonly string[];
  pushTo: readonly string[];
  durationMs: number;
  /** The Dockerfile as the repository names it (for the failure line). */
  dockerfile: string | undefined;
}

const html = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '&#124;');
const code = (text: string): string => `<code>${html(text)}</code>`;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const seconds = (ms: number | undefined): string =>
  ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`;

function stepsTable(steps: readonly StepResult[]): string[] {
  const ran = steps.filter((s) => s.status === 'ran').length;
  const lines = [
    `<details><summary>${steps.length} steps: ${ran} run, ${steps.length - ran} cached</summary>`,
    '',
    '| Step | Result | Time | Why it ran |',
    '| --- | --- | --- | --- |',
  ];
  for (const s of steps)
    lines.push(
      `| ${code(s.name)} | ${s.status === 'cached' ? 'cached' : 'run'} | ${seconds(s.durationMs)} | ${
        s.status === 'ran' && s.cacheMiss ? html(s.cacheMiss) : ''
      } |`,
    );
  lines.push('', '</details>', '');
  return lines;
}

/** The summary of a build that succeeded. */
export function successSummary(result: BuildResult, facts: SummaryFacts): string {
  const image = facts.tags[0] ?? result.imageId.slice(0, 19);
  const rows: Array<[string, string]> = [
    ['Image', facts.tags.length ? facts.tags.map(code).join('<br>') : '(untagged)'],
    ['Digest', code(result.manifestDigest)],
    ['Image ID', code(result.imageId)],
    [
      'Size',
      `${formatBytes(result.image.size)} (${result.image.layers} compressed layers and config)`,
    ],
    ['Pushed to', facts.pushTo.length ? facts.pushTo.map(code).join('<br>') : 'not pushed'],
  ];
  return [
    `### :white_check_mark: tbuild built ${code(image)} in ${seconds(facts.durationMs)}`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...warningsList(result.warnings.map((w) => w.message)),
    ...stepsTable(result.steps),
  ].join('\n');
}

/** The summary of a build that failed: the error, where, and the steps that got done. */
export function failureSummary(
  error: unknown,
  steps: readonly StepResult[],
  facts: SummaryFacts,
): string {
  const message = error instanceof Error ? error.message : String(error);
  const range = isTbuildError(error) ? error.location?.range : undefined;
  const where =
    range && facts.dockerfile
      ? ` at ${code(`${facts.dockerfile}:${range.start === range.end ? range.start : `${range.start}-${range.end}`}`)}`
      : '';
  const hint = isTbuildError(error) && error.hint ? ['', `> ${html(error.hint)}`] : [];
  return [
    `### :x: tbuild build failed${where} after ${seconds(facts.durationMs)}`,
    '',
    code(message),
    ...hint,
    '',
    ...(steps.length ? stepsTable(steps) : []),
  ].join('\n');
}

function warningsList(warnings: readonly string[]): string[] {
  if (warnings.length === 0) return [];
  return [`**Warnings**`, '', ...warnings.map((w) => `- ${html(w)}`), ''];
}

/** Replace masked values, as the runner does in the log, before anything is written. */
export function redact(text: string, masks: readonly string[]): string {
  let out = text;
  for (const value of [...masks].sort((a, b) => b.length - a.length))
    if (value) out = out.split(value).join('***');
  return out;
}
