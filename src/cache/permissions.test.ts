import { spawnSync } from 'node:child_process';
import { chmod, copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempRoot } from './test-helpers.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
beforeEach(async () => {
  temp = await createTempRoot();
});
afterEach(() => temp.cleanup());

const mode = async (path: string) => (await stat(path)).mode & 0o7777;

/** Run `argv` as the `nobody` user (uid and gid 65534, no groups): needs root. */
function asNobody(argv: string[]): { status: number | null; stdout: string } {
  const result = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv],
    { encoding: 'utf8' },
  );
  return { status: result.status, stdout: result.stdout };
}

describe('store permissions', () => {
  it('makes every directory of a new store 0700 and the database 0600', async () => {
    const store = await temp.open();
    const snap = await store.snapshots.create(null);
    for (const dir of ['', 'blobs', 'blobs/sha256', 'snapshots', 'tmp', 'mounts', 'cache-mounts'])
      expect(await mode(join(temp.root, dir)), dir).toBe(0o700);
    expect(await mode(join(temp.root, 'snapshots', String(snap.id)))).toBe(0o700);
    expect(await mode(snap.dir)).toBe(0o755); // the layer's `/`
    expect(await mode(join(temp.root, 'tbuild.db'))).toBe(0o600);
    expect(await mode(join(temp.root, 'tbuild.db-wal'))).toBe(0o600);
  });

  // The reproduction of issue 14: a setuid-root copy of a shell in a layer, reachable by any
  // local user through a store made with the old modes; opening the store must close it.
  it.runIf(process.getuid?.() === 0)(
    'fixes an old store on open so that nobody reaches a setuid file or the database',
    async () => {
      const store = await temp.open();
      const snap = await store.snapshots.create(null);
      const setuid = join(snap.dir, 'rootcat');
      await copyFile('/bin/cat', setuid);
      await chmod(setuid, 0o4755);
      await store.snapshots.commit(snap.id);
      store.close();
      // The modes older versions made.
      for (const dir of ['', 'blobs', 'blobs/sha256', 'snapshots', 'tmp', 'mounts', 'cache-mounts'])
        await chmod(join(temp.root, dir), 0o711);
      await chmod(join(temp.root, 'snapshots', String(snap.id)), 0o755);
      await chmod(join(temp.root, 'tbuild.db'), 0o644);
      const db = join(temp.root, 'tbuild.db');
      // Before the fix both are reachable: the test would prove nothing otherwise.
      expect(asNobody(['test', '-u', setuid]).status).toBe(0);
      expect(asNobody(['test', '-r', db]).status).toBe(0);

      await temp.open();
      expect(asNobody(['test', '-e', setuid]).status).not.toBe(0);
      expect(asNobody(['cat', db]).status).not.toBe(0);
      expect(asNobody(['cat', `${db}-wal`]).status).not.toBe(0);
      expect(await mode(join(temp.root, 'snapshots', String(snap.id)))).toBe(0o700);
      expect(await mode(db)).toBe(0o600);
    },
  );
});
