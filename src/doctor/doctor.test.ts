import { describe, expect, it } from 'vitest';
import { assertBuildHost, installCommand, packagesToInstall, runChecks } from './index.ts';
import type { HostContext } from './types.ts';

/** A host with these programs on PATH and these files, as a check sees it. */
function host(
  programs: string[],
  { uid = 0, files = {} }: { uid?: number; files?: Record<string, string> } = {},
): HostContext {
  const all: Record<string, string> = {
    '/proc/filesystems': 'nodev\tproc\nnodev\toverlay\n',
    '/etc/os-release': 'ID=ubuntu\nID_LIKE=debian\n',
    ...files,
  };
  return {
    env: { PATH: '/usr/bin' },
    uid,
    readFile: (file) => Promise.resolve(all[file]),
    which: (p) => Promise.resolve(programs.includes(p) ? `/usr/bin/${p}` : undefined),
  };
}

const EVERYTHING = [
  'runc',
  'setpriv',
  'mount',
  'umount',
  'getfattr',
  'setfattr',
  'cp',
  'mknod',
  'touch',
];

describe('host checks', () => {
  it('pass on a machine with everything a build needs', async () => {
    await expect(assertBuildHost(host(EVERYTHING))).resolves.toBeUndefined();
  });

  it('name what is missing once, with the apt-get command that installs it', async () => {
    const without = EVERYTHING.filter((p) => !['runc', 'getfattr'].includes(p));
    const error = await assertBuildHost(host(without)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TBUILD_MISSING_DEPENDENCIES' });
    expect((error as Error).message).toMatch(/runc not found on PATH.*getfattr not found/);
    expect((error as { hint: string }).hint).toContain(
      '`apt-get update && apt-get install -y --no-install-recommends runc attr`',
    );
  });

  it('prefix sudo for a user who is not root, and say why a rootless build cannot run', async () => {
    const results = await runChecks(
      host(
        EVERYTHING.filter((p) => p !== 'runc'),
        {
          uid: 1001,
          files: { '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1\n' },
        },
      ),
    );
    expect(results.find((r) => r.id === 'privileges')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/uid 1001.*AppArmor restricts unprivileged user namespaces/),
    });
    expect(await installCommand(packagesToInstall(results), host([], { uid: 1001 }))).toBe(
      'sudo apt-get update && sudo apt-get install -y --no-install-recommends runc',
    );
  });

  it('accept an overlay module that is not loaded yet, and fail when there is none', async () => {
    const notLoaded = {
      '/proc/filesystems': 'nodev\tproc\n',
      '/proc/sys/kernel/osrelease': '6.8.0\n',
      '/lib/modules/6.8.0/modules.dep': 'kernel/fs/overlayfs/overlay.ko.zst:\n',
    };
    const overlayOf = async (files: Record<string, string>) =>
      (await runChecks(host(EVERYTHING, { files }))).find((r) => r.id === 'overlayfs')?.status;
    expect(await overlayOf(notLoaded)).toBe('ok');
    expect(await overlayOf({ '/proc/filesystems': 'nodev\tproc\n' })).toBe('fail');
  });

  it('only warn about optional tools, and list their packages only when asked', async () => {
    const results = await runChecks(host(EVERYTHING));
    expect(results.find((r) => r.id === 'git')).toMatchObject({
      status: 'warn',
      packages: ['git'],
    });
    expect(results.find((r) => r.id === 'perl')).toMatchObject({
      status: 'warn',
      packages: ['perl-base'],
    });
    expect(packagesToInstall(results)).toEqual([]);
    expect(packagesToInstall(results, true)).toContain('git');
  });

  it('pass an ordinary user whose builds can run rootless, and say what rootless lacks', async () => {
    const files = {
      '/proc/sys/kernel/osrelease': '5.10.0-28-amd64\n',
      '/etc/subuid': 'alice:100000:65536\n',
      '/etc/subgid': 'bob:100000:65536\n',
    };
    const user = { ...host(EVERYTHING, { uid: 1001, files }), userName: 'alice' };
    const results = await runChecks(user);
    const byId = (id: string) => results.find((r) => r.id === id);
    expect(byId('privileges')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/rootless/),
    });
    expect(byId('subids')).toMatchObject({
      status: 'warn',
      hint: 'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice',
    });
    expect(byId('uidmap')).toMatchObject({ status: 'warn', packages: ['uidmap'] });
    expect(byId('overlay-userns')).toMatchObject({ status: 'warn' });
    const rootResults = await runChecks(host(EVERYTHING, { files }));
    for (const id of ['subids', 'uidmap', 'overlay-userns'])
      expect(rootResults.find((r) => r.id === id)?.status).toBe('ok');
  });
});
