import { describe, expect, it } from 'vitest';
import { formatOverlayOptions } from './overlay.ts';
import { createMounts, createOciSpec, DEFAULT_CAPABILITIES, listStubRequests } from './spec.ts';
import type { RunSpec } from './types.ts';

const files = { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' };

function makeSpec(overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    rootfs: '/rootfs',
    process: { args: ['true'], env: ['A=1'], cwd: '/', uid: 0, gid: 0, additionalGids: [] },
    mounts: [],
    network: 'host',
    security: 'sandbox',
    ...overrides,
  };
}

describe('the OCI spec', () => {
  it("uses Docker's sandbox defaults and adds a default PATH", () => {
    const spec = makeSpec({ network: 'none' });
    const config = createOciSpec(spec, createMounts(spec, files), 'box');
    expect(config.process).toMatchObject({
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1'],
      noNewPrivileges: true,
      capabilities: { bounding: DEFAULT_CAPABILITIES, inheritable: [] },
    });
    expect(config.linux['namespaces']).toContainEqual({ type: 'network' });
    expect(config.linux['maskedPaths']).toContain('/proc/kcore');
    expect(config.linux['seccomp']).toMatchObject({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: expect.arrayContaining([
        expect.objectContaining({ names: ['unshare', 'clone'], errnoRet: 1 }),
        expect.objectContaining({ names: ['clone3'], errnoRet: 38 }),
      ]),
    });
  });

  it('sizes /dev/shm and sets ulimits, -1 as RLIM_INFINITY in the JSON', () => {
    const spec = makeSpec({
      shmSize: 128 * 1024 * 1024,
      ulimits: [
        { name: 'nofile', soft: 100, hard: 200 },
        { name: 'nproc', soft: -1, hard: -1 },
      ],
    });
    const config = createOciSpec(spec, createMounts(spec, files), 'box');
    const shm = config.mounts.find((m) => m.destination === '/dev/shm');
    expect(shm?.options).toContain(`size=${128 * 1024 * 1024}`);
    const json = JSON.stringify(config.process['rlimits']);
    expect(json).toBe(
      '[{"type":"RLIMIT_NOFILE","hard":200,"soft":100},' +
        '{"type":"RLIMIT_NPROC","hard":18446744073709551615,"soft":18446744073709551615}]',
    );
    const defaults = createOciSpec(makeSpec(), createMounts(makeSpec(), files), 'box');
    expect(defaults.mounts.find((m) => m.destination === '/dev/shm')?.options).toContain(
      `size=${64 * 1024 * 1024}`,
    );
  });

  it('gives --security=insecure every capability and no masked paths', () => {
    const spec = makeSpec({ security: 'insecure' });
    const config = createOciSpec(spec, createMounts(spec, files), 'box');
    expect((config.process['capabilities'] as { bounding: string[] }).bounding).toContain(
      'CAP_SYS_ADMIN',
    );
    expect(config.linux['maskedPaths']).toEqual([]);
    expect(config.linux['namespaces']).not.toContainEqual({ type: 'network' });
    expect(config.linux['seccomp']).toBeUndefined();
  });

  it('joins the namespace the executor made for an isolated run, and refuses one without', () => {
    const spec = makeSpec({ network: 'isolated' });
    const config = createOciSpec(
      spec,
      createMounts(spec, files),
      'box',
      undefined,
      '/proc/7/ns/net',
    );
    expect(config.linux['namespaces']).toContainEqual({ type: 'network', path: '/proc/7/ns/net' });
    expect(() => createOciSpec(spec, createMounts(spec, files), 'box')).toThrow(/namespace/);
  });

  it('needs mount points in the rootfs only for mounts not inside another mount', () => {
    const spec = makeSpec({
      mounts: [
        { dest: '/cache/sub', type: 'bind', source: '/host/sub', readonly: false },
        { dest: '/cache', type: 'tmpfs', readonly: false },
        { dest: '/run/secrets/token', type: 'bind', source: '/host/token', readonly: true },
      ],
    });
    const kinds = new Map<string, 'dir' | 'file'>([
      ['/host/sub', 'dir'],
      ['/host/token', 'file'],
      ...Object.values(files).map((f) => [f, 'file'] as [string, 'file']),
    ]);
    expect(listStubRequests(createMounts(spec, files), kinds)).toEqual([
      { dest: '/proc', kind: 'dir' },
      { dest: '/dev', kind: 'dir' },
      { dest: '/sys', kind: 'dir' },
      { dest: '/etc/resolv.conf', kind: 'file' },
      { dest: '/etc/hosts', kind: 'file' },
      { dest: '/etc/hostname', kind: 'file' },
      { dest: '/cache', kind: 'dir' },
      { dest: '/run/secrets/token', kind: 'file' },
    ]);
  });
});

describe('overlay options', () => {
  it("lists lowers nearest first with Docker's fixed options", () => {
    expect(formatOverlayOptions(['3', '2', '1'], '4/fs', '4/work')).toBe(
      'index=off,metacopy=off,redirect_dir=off,lowerdir=3:2:1,upperdir=4/fs,workdir=4/work',
    );
  });

  it('refuses a chain whose options would not fit in one page, with a hint to flatten', () => {
    const lower = Array.from({ length: 600 }, (_, i) => `${100000 + i}/fs`);
    expect(() => formatOverlayOptions(lower)).toThrow(
      expect.objectContaining({
        code: 'TBUILD_OVERLAY_TOO_DEEP',
        hint: expect.stringContaining('Flatten'),
      }),
    );
  });
});
