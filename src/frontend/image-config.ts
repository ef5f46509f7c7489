/**
 * Image config bookkeeping for a stage: the starting config for a base image or
 * scratch, ENV updates, and history entries worded exactly as BuildKit words them.
 */
import type { HealthConfig, ImageConfig } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';

/** PATH a container gets when its image sets none (Docker's default for Linux). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A fresh config for `FROM scratch`: BuildKit's empty image has the default PATH and WorkingDir "/". */
export function createScratchConfig(platform: Platform): ImageConfig {
  const image: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  if (platform.variant) image.variant = platform.variant;
  return image;
}

/** A deep copy of a base image's config to build on; adds the default PATH when it has none. */
export function inheritConfig(base: ImageConfig): ImageConfig {
  const image = structuredClone(base);
  image.config ??= {};
  image.rootfs ??= { type: 'layers', diff_ids: [] };
  image.history ??= [];
  const env = image.config.Env ?? [];
  if (!env.some((e) => e.startsWith('PATH='))) image.config.Env = [`PATH=${DEFAULT_PATH}`, ...env];
  delete image.created;
  return image;
}

/** Look up a variable in a `K=V` list. */
export function getEnv(env: readonly string[] | undefined, key: string): string | undefined {
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if ((eq < 0 ? entry : entry.slice(0, eq)) === key) return eq < 0 ? '' : entry.slice(eq + 1);
  }
  return undefined;
}

/** Set a variable in a `K=V` list: replaced in place when present, else appended. */
export function setEnv(env: readonly string[] | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const index = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (index >= 0) out[index] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/**
 * Append a history entry. Steps that ran an op say so with ` # buildkit` (`mark`); WORKDIR
 * adds a layer without the mark, as BuildKit does.
 */
export function addHistory(
  image: ImageConfig,
  createdBy: string,
  withLayer: boolean,
  created: string | undefined,
  mark = withLayer,
): void {
  const entry: NonNullable<ImageConfig['history']>[number] = {
    created_by: mark ? `${createdBy} # buildkit` : createdBy,
    comment: 'buildkit.dockerfile.v0',
  };
  if (created) entry.created = created;
  if (!withLayer) entry.empty_layer = true;
  (image.history ??= []).push(entry);
}

/** Go's `%q` for a string: double-quoted with Go escapes. */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u00([0-7][0-9a-f])/g, '\\x$1')
    .replace(/\u007f/g, '\\x7f');
}

/** Go's `%q` for a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** Go's `time.Duration.String()` for nanoseconds: `30s`, `1m30s`, `1.5s`, `500ms`, `0s`. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${sign}${abs}ns`;
  if (abs < 1e6) return `${sign}${trimZeros(abs / 1e3)}µs`;
  if (abs < 1e9) return `${sign}${trimZeros(abs / 1e6)}ms`;
  const hours = Math.floor(abs / 3600e9);
  const minutes = Math.floor((abs % 3600e9) / 60e9);
  const seconds = (abs % 60e9) / 1e9;
  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  return `${sign}${out}${trimZeros(seconds)}s`;
}

function trimZeros(n: number): string {
  return String(Number(n.toFixed(9)));
}

/** Go's `%q` for a rune (HEALTHCHECK history shows retries this way): `'\x03'`, `'a'`. */
function goQuoteRune(n: number): string {
  if (n >= 0x20 && n < 0x7f && n !== 0x27 && n !== 0x5c) return `'${String.fromCharCode(n)}'`;
  const special: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    0x27: "\\'",
    0x5c: '\\\\',
  };
  if (special[n]) return `'${special[n]}'`;
  if (n < 0x100) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCodePoint(n)}'`;
}

/** BuildKit's HEALTHCHECK history text: `HEALTHCHECK &{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\x00'}`. */
export function formatHealthcheckHistory(health: HealthConfig): string {
  const d = (v: number | undefined): string => goQuote(formatGoDuration(v ?? 0));
  return `HEALTHCHECK &{${goQuoteList(health.Test ?? [])} ${d(health.Interval)} ${d(health.Timeout)} ${d(health.StartPeriod)} ${d(health.StartInterval)} ${goQuoteRune(health.Retries ?? 0)}}`;
}
