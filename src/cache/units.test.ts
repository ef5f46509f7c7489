import { describe, expect, it } from 'vitest';
import { UsageError } from '../shared/errors.ts';
import { formatAgo, formatBytes, parseBytes, parseDuration } from './units.ts';

describe('units', () => {
  it('parses sizes the way docker does', () => {
    expect(parseBytes('10GB')).toBe(10e9);
    expect(parseBytes('512mb')).toBe(512e6);
    expect(parseBytes('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('1500')).toBe(1500);
    expect(() => parseBytes('ten')).toThrow(UsageError);
  });

  it('formats sizes in SI units', () => {
    expect(formatBytes(0)).toBe('0B');
    expect(formatBytes(999)).toBe('999B');
    expect(formatBytes(1234)).toBe('1.23kB');
    expect(formatBytes(7_800_000)).toBe('7.8MB');
    expect(formatBytes(1.5e9)).toBe('1.5GB');
  });

  it('parses durations like 24h, 1h30m and 7d', () => {
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(() => parseDuration('yesterday')).toThrow(UsageError);
  });

  it('says how long ago something happened', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 3 * 3_600_000, now)).toBe('3 hours ago');
    expect(formatAgo(now - 10 * 86_400_000, now)).toBe('10 days ago');
    expect(formatAgo(now - 30_000, now)).toBe('30 seconds ago');
  });
});
