/**
 * Whether this process runs in a user namespace that tbuild made for a rootless build
 * (ADR 17), and the names overlayfs uses there. In such a namespace tbuild is uid 0 but
 * holds no privilege on the host: overlay needs `userxattr` (Linux ≥ 5.11), which keeps
 * its private attributes under `user.overlay.*` instead of `trusted.overlay.*`.
 */
import { readFileSync } from 'node:fs';

/** Set by the CLI in the process it re-executes inside the user namespace. */
export const ROOTLESS_ENV = 'TBUILD_ROOTLESS';

/** One line of /proc/self/uid_map or gid_map: `inside outside count`. */
export interface IdMapRange {
  inside: number;
  outside: number;
  count: number;
}

/** Parse a uid_map/gid_map text. */
export function parseIdMap(text: string): IdMapRange[] {
  const ranges: IdMapRange[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/).map(Number);
    if (fields.length !== 3 || fields.some((n) => !Number.isInteger(n))) continue;
    ranges.push({ inside: fields[0]!, outside: fields[1]!, count: fields[2]! });
  }
  return ranges;
}

/** The initial namespace maps every id to itself: `0 0 4294967295`. */
function isInitialMap(ranges: readonly IdMapRange[]): boolean {
  return (
    ranges.length === 1 &&
    ranges[0]!.inside === 0 &&
    ranges[0]!.outside === 0 &&
    ranges[0]!.count === 4294967295
  );
}

/** The ranges of /proc/self/<kind>_map; undefined when it cannot be read. */
export function readIdMap(kind: 'uid' | 'gid'): IdMapRange[] | undefined {
  try {
    return parseIdMap(readFileSync(`/proc/self/${kind}_map`, 'utf8'));
  } catch {
    return undefined; // not Linux, or /proc not mounted: treated as the initial namespace
  }
}

let cached: boolean | undefined;

/**
 * True in a rootless build's user namespace: TBUILD_ROOTLESS=1, or a uid map that is not
 * the initial namespace's (tbuild run by `tbuild unshare`, `buildah unshare`, rootlesskit).
 */
export function inUserNamespace(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[ROOTLESS_ENV] === '1') return true;
  if (env[ROOTLESS_ENV] === '0') return false;
  cached ??= !isInitialMap(readIdMap('uid') ?? [{ inside: 0, outside: 0, count: 4294967295 }]);
  return cached;
}

/** Whether `id` (as seen in this namespace) is mapped by `ranges`. */
export function isMapped(ranges: readonly IdMapRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}

/** The prefix of overlayfs's own attributes (opaque, origin, redirect…) in this process. */
export function overlayXattrPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return inUserNamespace(env) ? 'user.overlay.' : 'trusted.overlay.';
}

/** The opaque-directory attribute overlayfs reads in this process. */
export function overlayOpaqueXattr(env: NodeJS.ProcessEnv = process.env): string {
  return `${overlayXattrPrefix(env)}opaque`;
}

/**
 * Set by the CLI to `host` when the user cannot open /dev/net/tun, which slirp4netns needs
 * to give RUN its own network: a rootless build's RUN then shares the user's network, as
 * rootlesskit's `--net=host` does (the CLI warns).
 */
export const ROOTLESS_NETWORK_ENV = 'TBUILD_ROOTLESS_NETWORK';

/** Whether RUN's default (isolated) network falls back to the host's in this rootless build. */
export function rootlessHostNetwork(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[ROOTLESS_ENV] === '1' && env[ROOTLESS_NETWORK_ENV] === 'host';
}
