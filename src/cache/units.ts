/**
 * Sizes and durations as people type and read them, the way Docker does: sizes in SI
 * units (`1.5GB` = 1.5e9 bytes; `KiB`/`MiB`/… are binary), durations in Go form (`24h`,
 * `90m`, `1h30m`, `7d`).
 */
import { UsageError } from '../shared/errors.ts';

const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `10GB` → 10_000_000_000. Throws a usage error that shows the accepted forms. */
export function parseBytes(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const factor = match ? sizeUnits[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new UsageError(`invalid size "${text}"`, {
      hint: 'Write a size like 512MB, 10GB or 2GiB.',
    });
  }
  return Math.round(Number(match[1]) * factor);
}

/** 1234567 → `1.23MB` (Docker's `units.HumanSize`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number(value.toPrecision(value >= 1000 ? 4 : 3))}${units[i]}`;
}

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `24h` / `1h30m` / `7d` → milliseconds. Throws a usage error on anything else. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  const consumed = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || consumed !== text.trim()) {
    throw new UsageError(`invalid duration "${text}"`, {
      hint: 'Write a duration like 24h, 90m, 1h30m or 7d.',
    });
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * durationUnits[p[2]!]!, 0);
}

/** Milliseconds ago → `3 hours ago` (Docker's `units.HumanDuration` + " ago"). */
export function formatAgo(thenMs: number, nowMs: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  const minutes = Math.round(seconds / 60);
  const hours = Math.round(seconds / 3600);
  const days = Math.floor(hours / 24);
  let text: string;
  if (seconds < 1) text = 'Less than a second';
  else if (seconds === 1) text = '1 second';
  else if (seconds < 60) text = `${seconds} seconds`;
  else if (minutes === 1) text = 'About a minute';
  else if (minutes < 60) text = `${minutes} minutes`;
  else if (hours === 1) text = 'About an hour';
  else if (hours < 48) text = `${hours} hours`;
  else if (hours < 24 * 7 * 2) text = `${days} days`;
  else if (hours < 24 * 30 * 2) text = `${Math.floor(days / 7)} weeks`;
  else if (hours < 24 * 365 * 2) text = `${Math.floor(days / 30)} months`;
  else text = `${Math.floor(days / 365)} years`;
  return `${text} ago`;
}
