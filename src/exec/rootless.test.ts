import { describe, expect, it } from 'vitest';
import { adaptSpecToUserNamespace } from './rootless.ts';
import { createMounts, createOciSpec } from './spec.ts';
import type { RunSpec } from './types.ts';

const FILES = { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' };
const SUBIDS = {
  uids: [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ],
  gids: [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ],
};
const SINGLE = { uids: [SUBIDS.uids[0]!], gids: [SUBIDS.gids[0]!] };

function ociSpec(network: RunSpec['network']) {
  const spec = {
    rootfs: '/r',
    process: { args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [] },
    mounts: [],
    network,
  } as unknown as RunSpec;
  return createOciSpec(spec, createMounts(spec, FILES), 'h');
}

describe('a RUN spec in a rootless build', () => {
  it('has no cgroup mount and no cgroup resources', () => {
    const spec = adaptSpecToUserNamespace(ociSpec('host'), SUBIDS);
    expect(spec.mounts.map((m) => m.type)).not.toContain('cgroup');
    expect(spec.linux['resources']).toBeUndefined();
  });

  it("binds the host's /sys read-only in the host network, and mounts sysfs in its own", () => {
    const host = adaptSpecToUserNamespace(ociSpec('host'), SUBIDS);
    expect(host.mounts.find((m) => m.destination === '/sys')).toMatchObject({
      type: 'bind',
      source: '/sys',
      options: expect.arrayContaining(['rbind', 'ro']),
    });
    const none = adaptSpecToUserNamespace(ociSpec('none'), SUBIDS);
    expect(none.mounts.find((m) => m.destination === '/sys')?.type).toBe('sysfs');
  });

  it('mounts devpts with gid 5 only when gid 5 is mapped', () => {
    const devpts = (ids: typeof SUBIDS) =>
      adaptSpecToUserNamespace(ociSpec('host'), ids).mounts.find((m) => m.type === 'devpts');
    expect(devpts(SUBIDS)?.options).toContain('gid=5');
    expect(devpts(SINGLE)?.options).not.toContain('gid=5');
  });

  it("maps a step's own user namespace onto the ids this namespace has", () => {
    const base = ociSpec('host');
    const all = [{ containerID: 0, hostID: 0, size: 4294967295 }];
    const nested = { ...base, linux: { ...base.linux, uidMappings: all, gidMappings: all } };
    expect(adaptSpecToUserNamespace(nested, SUBIDS).linux['uidMappings']).toEqual([
      { containerID: 0, hostID: 0, size: 1 },
      { containerID: 1, hostID: 1, size: 65536 },
    ]);
  });
});
