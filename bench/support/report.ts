/** The result table (stdout) and the JSON file (bench/results/latest.json). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { Stats } from './measure.ts';
import type { Row } from './types.ts';

export interface Report {
  date: string;
  commit: string;
  machine: {
    cpus: number;
    node: string;
    docker?: string;
    uptimeBefore: string;
    uptimeAfter: string;
  };
  runsPerCase: number;
  comparison: 'tbuild vs BuildKit' | 'tbuild only';
  skippedBecause?: string;
  totalSeconds: number;
  rows: Row[];
}

function cell(stats: Stats | undefined): string {
  if (!stats) return '—';
  const s = (ms: number) => (ms / 1000).toFixed(2);
  return stats.runs === 1 ? `${s(stats.medianMs)} s` : `${s(stats.medianMs)} (${s(stats.minMs)}) s`;
}

/** A fixed-width table: median (min) seconds per tool and the median ratio. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['scenario', 'case', 'tbuild', 'BuildKit', 'ratio', 'target', 'tbuild peak RSS'];
  const lines = rows.map((r) => [
    r.scenario,
    r.case,
    cell(r.tbuild),
    cell(r.buildkit),
    r.ratio === undefined ? '—' : r.ratio.toFixed(2),
    r.target ?? '',
    r.tbuildPeakRssMb === undefined ? '' : `${r.tbuildPeakRssMb} MB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

/**
 * Write `report` as JSON to `file`, creating its directory. Formatted by the project's
 * prettier settings so that `npm run format:check` stays quiet about the results file.
 */
export async function writeReport(file: string, report: Report): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const options = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(JSON.stringify(report), { ...options, parser: 'json' }));
}
