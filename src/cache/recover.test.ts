import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, migrations } from './database.ts';
import { StoreVersionError } from './errors.ts';
import { DEAD_PID, createTempRoot } from './test-helpers.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
beforeEach(async () => {
  temp = await createTempRoot();
});
afterEach(() => temp.cleanup());

describe('recovery on open', () => {
  it('reports nothing for a store closed cleanly', async () => {
    (await temp.open()).close();
    const store = await temp.open();
    expect(store.recovery).toEqual({
      unmounted: [],
      removedTemp: [],
      removedSnapshots: [],
      removedOrphanDirs: [],
      releasedLocks: [],
      measuredSnapshots: [],
    });
  });

  it('removes what a dead process left: temp files, uncommitted snapshots, orphan dirs, locks', async () => {
    const first = await temp.open();
    const kept = await first.snapshots.commit((await first.snapshots.create(null)).id);
    first.close();
    // Leave behind what a SIGKILLed process would have, owned by a pid that cannot be alive.
    const db = new DatabaseSync(join(temp.root, 'tbuild.db'));
    const row = db
      .prepare(
        `INSERT INTO snapshots (parent, created_at, last_used_at, owner_pid, owner_start) VALUES (?, 0, 0, ?, 1)`,
      )
      .run(kept.id, DEAD_PID);
    const abandoned = Number(row.lastInsertRowid);
    db.prepare(`INSERT INTO locks VALUES ('gc', 't', ?, 1, 0)`).run(DEAD_PID);
    db.close();
    await mkdir(join(temp.root, 'snapshots', String(abandoned), 'fs'), { recursive: true });
    await mkdir(join(temp.root, 'snapshots', '9999', 'fs'), { recursive: true });
    const deadTemp = join(temp.root, 'tmp', `${DEAD_PID}-1-abcd`);
    await mkdir(deadTemp, { recursive: true });
    await writeFile(join(deadTemp, 'blob-partial'), 'half');

    const store = await temp.open();

    expect(store.recovery).toMatchObject({
      removedTemp: [deadTemp],
      removedSnapshots: [abandoned],
      removedOrphanDirs: [join(temp.root, 'snapshots', '9999')],
      releasedLocks: ['gc'],
    });
    expect(await readdir(join(temp.root, 'snapshots'))).toEqual([String(kept.id)]);
    expect(await readdir(join(temp.root, 'tmp'))).toEqual([]);
    expect(store.snapshots.get(kept.id)?.committed).toBe(true);
  });

  it('lists the snapshot directories only when their count differs from the rows', async () => {
    const first = await temp.open();
    const kept = await first.snapshots.commit((await first.snapshots.create(null)).id);
    const gone = await first.snapshots.commit((await first.snapshots.create(null)).id);
    first.close();
    // An orphan directory and a row whose directory is missing: the counts agree, so this
    // open does not look (the missing directory is for `tbuild check` and its restore).
    const orphan = join(temp.root, 'snapshots', '9999');
    await mkdir(join(orphan, 'fs'), { recursive: true });
    await rm(join(temp.root, 'snapshots', String(gone.id)), { recursive: true });
    // A file system whose directories do not count their subdirectories (btrfs, overlayfs)
    // is listed every time: the orphan goes at once.
    const snapshots = join(temp.root, 'snapshots');
    const counted = (await stat(snapshots)).nlink === 2 + (await readdir(snapshots)).length;
    (await temp.open()).close();
    expect(existsSync(orphan)).toBe(counted);
    if (!counted) return;
    // Once the counts differ again, the orphan goes.
    await mkdir(join(temp.root, 'snapshots', String(gone.id), 'fs'), { recursive: true });
    const store = await temp.open();
    expect(store.recovery.removedOrphanDirs).toEqual([orphan]);
    expect((await readdir(join(temp.root, 'snapshots'))).sort()).toEqual(
      [String(kept.id), String(gone.id)].sort(),
    );
  });

  it('measures a large layer whose creator died before its hash recorded the size', async () => {
    const first = await temp.open();
    const big = await first.snapshots.create(null);
    for (let i = 0; i < 300; i++) await writeFile(join(big.dir, `f${i}`), 'abc');
    // Past the inline limit, sizeFromHash leaves the size to the hash that follows.
    expect((await first.snapshots.commit(big.id, { sizeFromHash: true })).size).toBeUndefined();
    first.close();
    const db = new DatabaseSync(join(temp.root, 'tbuild.db'));
    db.prepare('UPDATE snapshots SET owner_pid = ? WHERE id = ?').run(DEAD_PID, big.id);
    db.close();

    const store = await temp.open();
    expect(store.recovery.measuredSnapshots).toEqual([big.id]);
    expect(store.snapshots.get(big.id)?.size).toBe(300 * 3);
  });

  it('leaves a live process alone', async () => {
    const busy = await temp.open();
    const open = await busy.snapshots.create(null);
    const scratch = await busy.tempDir('work');
    const other = await temp.open();
    expect(other.recovery.removedSnapshots).toEqual([]);
    expect(other.snapshots.get(open.id)).toBeDefined();
    expect(existsSync(scratch)).toBe(true);
  });
});

describe('schema migrations', () => {
  it('brings a new database to the latest version once, and reopening changes nothing', async () => {
    const file = join(temp.root, 'test.db');
    openDatabase(file, temp.root).close();
    const db = openDatabase(file, temp.root);
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(
      migrations.length,
    );
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe(
      'wal',
    );
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['cache', 'images', 'layer_blobs', 'locks', 'sessions', 'snapshots']),
    );
    db.close();
  });

  it('prepares each SQL text once, and a reused statement answers each call for itself', () => {
    const db = openDatabase(join(temp.root, 'test.db'), temp.root);
    const sql = 'SELECT name FROM sqlite_master WHERE type = ? ORDER BY name';
    expect(db.prepare(sql)).toBe(db.prepare(sql));
    const tables = db
      .prepare(sql)
      .all('table')
      .map((t) => t.name);
    expect(tables).toContain('snapshots');
    expect(
      db
        .prepare(sql)
        .all('index')
        .map((t) => t.name),
    ).not.toContain('snapshots');
    expect(db.prepare(sql).get('table')).toEqual({ name: tables[0] });
    expect(
      db
        .prepare(sql)
        .all('table')
        .map((t) => t.name),
    ).toEqual(tables);
    db.close();
  });

  it('refuses a store written by a newer tbuild', async () => {
    const file = join(temp.root, 'future.db');
    const db = new DatabaseSync(file);
    db.exec(`PRAGMA user_version = ${migrations.length + 1}`);
    db.close();
    expect(() => openDatabase(file, temp.root)).toThrow(StoreVersionError);
  });
});
