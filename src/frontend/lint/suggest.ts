/** BuildKit's "did you mean" search (util/suggest), case-sensitive as on Linux. */
import { editDistance } from '../../shared/errors.ts';

/**
 * The option closest to `value` with fewer than 3 edits (the first one on a tie), or
 * undefined; an exact match means the value was not misspelt, so nothing is suggested.
 */
export function suggestName(value: string, options: Iterable<string>): string | undefined {
  let match: string | undefined;
  let best = 3;
  for (const option of options) {
    if (option === value) return undefined;
    const distance = editDistance(value, option);
    if (distance < best) {
      best = distance;
      match = option;
    }
  }
  return match;
}
