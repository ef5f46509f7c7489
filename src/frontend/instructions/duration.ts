/** Go's `time.ParseDuration`, which Dockerfiles use for HEALTHCHECK durations. */

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Parse a Go duration such as `30s`, `1m30s`, `1.5h` or `-2ms` into nanoseconds.
 * Returns undefined when the text is not a valid duration (Go requires a unit except for `0`).
 */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([-+]?)(.*)$/.exec(text)!;
  const sign = match[1] === '-' ? -1 : 1;
  const body = match[2]!;
  if (body === '0') return 0;
  if (body === '') return undefined;
  let total = 0;
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let index = 0;
  while (index < body.length) {
    part.lastIndex = index;
    const m = part.exec(body);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NANOS[m[2]!]!;
    index = part.lastIndex;
  }
  return sign * Math.round(total);
}
