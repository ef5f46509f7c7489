/**
 * A RUN step's spec in a rootless build's user namespace (ADR 17), as runc's rootless mode
 * needs it. tbuild is uid 0 there but owns nothing of the host, so:
 * - no cgroup mount and no `linux.resources`: cgroups are not delegated to the namespace
 *   (runc then skips the cgroup it cannot create, as it does for `runc spec --rootless`);
 * - sysfs can only be mounted in a network namespace the user namespace owns: a step in
 *   the host's network (or in one joined by path) gets the host's /sys bound read-only;
 * - devpts' `gid=5` only when gid 5 is mapped (not with a single-id map);
 * - a step's own user namespace (emulation, ADR 13) maps the ids this namespace has,
 *   each to itself, instead of all 2^32 of them.
 */
import { isMapped, readIdMap, type IdMapRange } from '../shared/userns.ts';
import type { OciMount, OciSpec } from './spec.ts';

/** The id maps of the namespace the spec will run in (default: this process's). */
export interface NamespaceIds {
  uids: readonly IdMapRange[];
  gids: readonly IdMapRange[];
}

function currentIds(): NamespaceIds {
  return { uids: readIdMap('uid') ?? [], gids: readIdMap('gid') ?? [] };
}

const SYS_BIND: OciMount = {
  destination: '/sys',
  type: 'bind',
  source: '/sys',
  options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
};

/** `spec` changed to run under runc in a rootless build's user namespace. */
export function adaptSpecToUserNamespace(spec: OciSpec, ids: NamespaceIds = currentIds()): OciSpec {
  const namespaces = (spec.linux['namespaces'] as Array<{ type: string; path?: string }>) ?? [];
  const ownNetwork = namespaces.some((ns) => ns.type === 'network' && ns.path === undefined);
  const mounts: OciMount[] = [];
  for (const mount of spec.mounts) {
    if (mount.type === 'cgroup' || mount.type === 'cgroup2') continue;
    if (mount.type === 'sysfs' && !ownNetwork) mounts.push({ ...SYS_BIND });
    else if (mount.type === 'devpts' && !isMapped(ids.gids, 5)) {
      mounts.push({ ...mount, options: (mount.options ?? []).filter((o) => o !== 'gid=5') });
    } else mounts.push(mount);
  }
  const { resources: _resources, ...linux } = spec.linux;
  if (linux['uidMappings'] !== undefined) linux['uidMappings'] = identityOf(ids.uids);
  if (linux['gidMappings'] !== undefined) linux['gidMappings'] = identityOf(ids.gids);
  return { ...spec, mounts, linux };
}

/** Each id this namespace has, mapped to itself in a nested one. */
function identityOf(ranges: readonly IdMapRange[]) {
  return ranges.map((r) => ({ containerID: r.inside, hostID: r.inside, size: r.count }));
}
