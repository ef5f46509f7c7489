import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInRoot, resolveUser } from './user.ts';

let rootfs: string;

beforeAll(async () => {
  rootfs = await mkdtemp(path.join(tmpdir(), 'tbuild-user-'));
  await mkdir(path.join(rootfs, 'etc'));
  await mkdir(path.join(rootfs, 'real'));
  await writeFile(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n',
  );
  await writeFile(
    path.join(rootfs, 'etc/group'),
    'root:x:0:root\nwheel:x:10:root,app\nappgrp:x:1001:\ndocker:x:999:app\n',
  );
  await symlink('/etc/../../../../etc', path.join(rootfs, 'escape'));
  await symlink('../real', path.join(rootfs, 'etc/rel'));
  await symlink('loop', path.join(rootfs, 'loop'));
});

afterAll(() => rm(rootfs, { recursive: true, force: true }));

describe('resolveInRoot', () => {
  it('keeps absolute and .. symlink targets inside the root', async () => {
    expect(await resolveInRoot(rootfs, '/escape/passwd')).toBe(path.join(rootfs, 'etc/passwd'));
    expect(await resolveInRoot(rootfs, '../../etc/passwd')).toBe(path.join(rootfs, 'etc/passwd'));
  });

  it('follows relative links and appends missing components', async () => {
    expect(await resolveInRoot(rootfs, '/etc/rel/new/file')).toBe(
      path.join(rootfs, 'real/new/file'),
    );
  });

  it('gives up on symlink loops', async () => {
    await expect(resolveInRoot(rootfs, '/loop/x')).rejects.toMatchObject({ code: 'ELOOP' });
  });
});

describe('resolveUser', () => {
  it("treats an empty user as root with root's group memberships", async () => {
    expect(await resolveUser(rootfs, '')).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] });
    expect(await resolveUser(rootfs, 'root')).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] });
  });

  it('takes the gid from /etc/passwd, and as groups that gid and those of /etc/group', async () => {
    expect(await resolveUser(rootfs, 'app')).toEqual({
      uid: 1000,
      gid: 1001,
      additionalGids: [1001, 10, 999],
    });
    expect(await resolveUser(rootfs, '1000')).toEqual({
      uid: 1000,
      gid: 1001,
      additionalGids: [1001, 10, 999],
    });
  });

  it('uses an explicit group, as the only group, instead of memberships', async () => {
    expect(await resolveUser(rootfs, 'app:docker')).toEqual({
      uid: 1000,
      gid: 999,
      additionalGids: [999],
    });
    expect(await resolveUser(rootfs, 'app:4242')).toEqual({
      uid: 1000,
      gid: 4242,
      additionalGids: [4242],
    });
  });

  it('accepts numeric ids the image does not know', async () => {
    expect(await resolveUser(rootfs, '4000')).toEqual({ uid: 4000, gid: 0, additionalGids: [0] });
    expect(await resolveUser(rootfs, '4000:4001')).toEqual({
      uid: 4000,
      gid: 4001,
      additionalGids: [4001],
    });
  });

  it('gives only the own gid when the image has no /etc/group', async () => {
    // BuildKit 28 fails such a RUN ("unable to find groups for spec app"): a deliberate
    // difference (ADR 0015).
    const bare = await mkdtemp(path.join(tmpdir(), 'tbuild-user-nogroup-'));
    try {
      await mkdir(path.join(bare, 'etc'));
      await writeFile(
        path.join(bare, 'etc/passwd'),
        'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n',
      );
      expect(await resolveUser(bare, 'app')).toEqual({
        uid: 1000,
        gid: 1000,
        additionalGids: [1000],
      });
      expect(await resolveUser(bare, 'root')).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });

  it('reads an /etc/passwd or /etc/group that is not a regular file as empty, at once', async () => {
    // A FIFO would block a plain read until a writer comes; a device could read forever.
    const odd = await mkdtemp(path.join(tmpdir(), 'tbuild-user-fifo-'));
    try {
      await mkdir(path.join(odd, 'etc'));
      execFileSync('mkfifo', [path.join(odd, 'etc/passwd')]);
      // /dev/zero's device numbers (mknod needs root, as the suite has in CI).
      if (process.getuid?.() === 0)
        execFileSync('mknod', [path.join(odd, 'etc/group'), 'c', '1', '5']);
      // Both files are read: the user's entry, then the named group's.
      expect(await resolveUser(odd, '')).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
      await expect(resolveUser(odd, '1000:staff')).rejects.toMatchObject({
        code: 'TBUILD_UNKNOWN_USER',
      });
    } finally {
      await rm(odd, { recursive: true, force: true });
    }
  });

  it('rejects unknown names with a hint', async () => {
    await expect(resolveUser(rootfs, 'nobody')).rejects.toMatchObject({
      code: 'TBUILD_UNKNOWN_USER',
      message: 'no user named "nobody" in /etc/passwd of the image',
    });
    await expect(resolveUser(rootfs, 'app:dockr')).rejects.toMatchObject({
      message: 'no group named "dockr" in /etc/group of the image',
      hint: expect.stringContaining('Did you mean "docker"?'),
    });
  });
});
