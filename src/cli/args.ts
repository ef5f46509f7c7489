/**
 * Repeatable flags (`-t a -t b`). yargs' `array: true` is greedy — `-t app .` would take
 * `.` as a second tag — so repeatable flags are plain strings that yargs collects into an
 * array when repeated, normalised here.
 */
export function list(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/** yargs option settings for a repeatable string flag. */
export const repeatable = { type: 'string', requiresArg: true } as const;
