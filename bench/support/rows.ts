/** Turning raw samples into result rows. */
import { summarize } from './measure.ts';
import type { Tool } from './tools.ts';
import type { Row } from './types.ts';

/** A row from per-tool samples, with the median ratio when both tools ran. */
export function makeRow(
  scenario: string,
  name: string,
  samples: Partial<Record<Tool, number[]>>,
  extra: Pick<Row, 'target' | 'note' | 'tbuildPeakRssMb'> = {},
): Row {
  const row: Row = { scenario, case: name, ...extra };
  if (samples.tbuild?.length) row.tbuild = summarize(samples.tbuild);
  if (samples.buildkit?.length) row.buildkit = summarize(samples.buildkit);
  if (row.tbuild && row.buildkit && row.buildkit.medianMs > 0)
    row.ratio = Math.round((row.tbuild.medianMs / row.buildkit.medianMs) * 100) / 100;
  return row;
}
