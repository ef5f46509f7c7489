/**
 * Incremental COPY (ADR 0018) end to end: a COPY that missed only because context files
 * changed is made from its previous layer, and that layer must be the one a full COPY
 * makes: every entry's type, mode, owner, size, content, link target, hard links and
 * mtime. Only the directories the COPY writes into above the copied tree (the layer root,
 * /app) carry the build's own time, in both.
 */
import { createHash } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

interface Entry {
  type: string;
  mode: string;
  owner: string;
  size: number;
  content?: string;
  link?: string;
  /** The first path in the tree with the same inode (hard links within the layer). */
  sameAs?: string;
  mtime: number;
}

/** Every entry of a snapshot's tree, by path. */
async function describeTree(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const inodes = new Map<number, string>();
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const st = await lstat(abs);
    const entry: Entry = {
      type: st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFile()
            ? 'file'
            : 'other',
      mode: (st.mode & 0o7777).toString(8),
      owner: `${st.uid}:${st.gid}`,
      size: st.isDirectory() ? 0 : st.size,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (st.isFile()) {
      entry.content = createHash('sha256')
        .update(await readFile(abs))
        .digest('hex');
      const first = inodes.get(st.ino);
      if (first !== undefined) entry.sameAs = first;
      else inodes.set(st.ino, rel);
    }
    if (st.isSymbolicLink()) entry.link = await readlink(abs);
    out.set(rel, entry);
    if (st.isDirectory())
      for (const name of (await readdir(abs)).sort()) await walk(rel ? `${rel}/${name}` : name);
  };
  await walk('');
  return out;
}

/** The store directory of the image's top layer (its last step), or `below` layers under it. */
function layerDir(store: string, tag: string, below = 0): string {
  const db = new DatabaseSync(path.join(store, 'tbuild.db'), { readOnly: true });
  try {
    const row = db
      .prepare('SELECT snapshot FROM images WHERE name = ?')
      .get(`docker.io/library/${tag}`) as { snapshot: number } | undefined;
    if (!row) throw new Error(`no image ${tag}`);
    let id = row.snapshot;
    for (let i = 0; i < below; i++)
      id = (db.prepare('SELECT parent FROM snapshots WHERE id = ?').get(id) as { parent: number })
        .parent;
    return path.join(store, 'snapshots', String(id), 'fs');
  } finally {
    db.close();
  }
}

/** Give every entry below `dir` a fixed, distinct time in the past, deepest first. */
async function pinTimes(dir: string, seconds: number): Promise<void> {
  let n = 0;
  const walk = async (abs: string): Promise<void> => {
    const st = await lstat(abs);
    if (st.isDirectory()) for (const name of await readdir(abs)) await walk(path.join(abs, name));
    if (!st.isSymbolicLink()) {
      const t = seconds + 7 * n++;
      await utimes(abs, t, t);
    }
  };
  await walk(dir);
}

const CASES = [
  {
    name: 'onto an image (through overlay)',
    dockerfile: 'FROM localhost:5000/busybox:latest\nWORKDIR /app\nCOPY src ./src\n',
    chain: ['', 'app', 'app/src'],
  },
  {
    name: 'onto scratch (straight into the layer)',
    dockerfile: 'FROM scratch\nCOPY src /\n',
    chain: [''],
  },
];

describe('incremental COPY', () => {
  for (const [index, c] of CASES.entries()) {
    it(`gives the layer a full COPY gives, ${c.name}`, async () => {
      const context = await makeContext({
        Dockerfile: c.dockerfile,
        '.dockerignore': 'src/ignored*\n',
        'src/keep.txt': 'unchanged\n',
        'src/edit.txt': 'version one\n',
        'src/same-size.txt': 'aaaa\n',
        'src/gone.txt': 'to be deleted\n',
        'src/chmod.sh': 'echo hi\n',
        'src/touched.txt': 'only the time moves\n',
        'src/becomes-dir': 'a file first\n',
        'src/becomes-file/inner.txt': 'a directory first\n',
        'src/old-dir/a.txt': 'a\n',
        'src/old-dir/deeper/b.txt': 'b\n',
        'src/nested/keep/k.txt': 'k\n',
        'src/nested/edit/e.txt': 'e1\n',
        'src/ignored-one.txt': 'never copied\n',
      });
      const src = path.join(context, 'src');
      // Enough entries for the COPY to be made incrementally (smaller ones copy in full).
      await mkdir(path.join(src, 'many'));
      for (let i = 0; i < 520; i++) await writeFile(path.join(src, 'many', `f${i}`), `${i}\n`);
      await symlink('keep.txt', path.join(src, 'link'));
      await pinTimes(src, 1_600_000_000);
      const tag = `inc-${index}`;
      const first = await build(dirs.store, context, ['-t', `${tag}:1`]);
      expect(first.code, first.stderr).toBe(0);

      // Every kind of change at once.
      await writeFile(path.join(src, 'edit.txt'), 'version two, longer\n');
      await writeFile(path.join(src, 'same-size.txt'), 'bbbb\n');
      await rm(path.join(src, 'gone.txt'));
      await chmod(path.join(src, 'chmod.sh'), 0o755);
      await rm(path.join(src, 'link'));
      await symlink('edit.txt', path.join(src, 'link'));
      await rm(path.join(src, 'becomes-dir'));
      await mkdir(path.join(src, 'becomes-dir'));
      await writeFile(path.join(src, 'becomes-dir', 'child.txt'), 'now a directory\n');
      await rm(path.join(src, 'becomes-file'), { recursive: true });
      await writeFile(path.join(src, 'becomes-file'), 'now a file\n');
      await rm(path.join(src, 'old-dir'), { recursive: true });
      await mkdir(path.join(src, 'new-dir', 'deeper'), { recursive: true });
      await writeFile(path.join(src, 'new-dir', 'deeper', 'n.txt'), 'new\n');
      await mkdir(path.join(src, 'empty-dir'));
      await writeFile(path.join(src, 'nested', 'edit', 'e.txt'), 'e2\n');
      await writeFile(path.join(src, 'ignored-one.txt'), 'still never copied\n');
      // A file whose content and mode stay: only its mtime differs from the first build.
      await utimes(path.join(src, 'touched.txt'), 1_700_000_000, 1_700_000_000);

      const start = Math.floor(Date.now() / 1000);
      const second = await build(dirs.store, context, ['-t', `${tag}:2`]);
      expect(second.code, second.stderr).toBe(0);
      const full = await build(dirs.store, context, ['--no-cache', '-t', `${tag}:full`]);
      expect(full.code, full.stderr).toBe(0);

      const incrementalDir = layerDir(dirs.store, `${tag}:2`);
      const fullDir = layerDir(dirs.store, `${tag}:full`);
      // The incremental layer shares the unchanged file with the first build's layer.
      const keep = c.chain.length > 1 ? 'app/src/keep.txt' : 'keep.txt';
      expect((await lstat(path.join(incrementalDir, keep))).nlink).toBe(2);
      expect((await lstat(path.join(fullDir, keep))).nlink).toBe(1);

      const [incremental, reference] = await Promise.all([
        describeTree(incrementalDir),
        describeTree(fullDir),
      ]);
      for (const dir of c.chain) {
        expect(incremental.get(dir)!.mtime).toBeGreaterThanOrEqual(start);
        expect(reference.get(dir)!.mtime).toBeGreaterThanOrEqual(start);
        incremental.get(dir)!.mtime = reference.get(dir)!.mtime = 0;
      }
      expect(Object.fromEntries(incremental)).toEqual(Object.fromEntries(reference));
      expect([...reference.keys()].some((p) => p.endsWith('ignored-one.txt'))).toBe(false);
    });
  }

  it('copies in full under the copying snapshotter, which has no upper to start from', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nCOPY src /app/\nRUN cat /app/*.txt\n',
      'src/a.txt': 'a1\n',
      'src/b.txt': 'b\n',
    });
    // Large enough to be made incrementally under overlayfs.
    await mkdir(path.join(context, 'src', 'many'));
    for (let i = 0; i < 520; i++)
      await writeFile(path.join(context, 'src', 'many', `f${i}`), `${i}\n`);
    const env = { ...process.env, TBUILD_SNAPSHOTTER: 'copy' };
    const run = (tag: string) =>
      runTbuild(['build', '--root', dirs.store, '-t', tag, context], { env });
    expect((await run('inc-copy:1')).code).toBe(0);
    await writeFile(path.join(context, 'src', 'a.txt'), 'a2\n');
    const second = await run('inc-copy:2');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('a2');
    // The COPY layer (below the RUN's) holds its own copy of the unchanged file.
    const copyLayer = layerDir(dirs.store, 'inc-copy:2', 1);
    expect((await readFile(path.join(copyLayer, 'app/a.txt'))).toString()).toBe('a2\n');
    expect((await lstat(path.join(copyLayer, 'app/b.txt'))).nlink).toBe(1);
  });
});
