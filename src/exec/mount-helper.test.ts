import { execFileSync, spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { XattrMap } from '../shared/xattr-dump.ts';
import {
  mountSyscall,
  readXattrTree,
  setTimesSyscall,
  stopMountHelper,
  umountSyscall,
} from './mount-helper.ts';
import { listMounts, mountKernelOverlay, unmountPath } from './overlay.ts';
import { readTreeXattrs } from './xattrs.ts';

// Mounting needs root; the suite runs as root in CI (README).
const root = process.getuid?.() === 0;
const { EINVAL, ENOENT } = constants.errno;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tbuild-mount-helper-'));
  for (const sub of ['lower1', 'lower2', 'upper', 'work', 'merged']) mkdirSync(path.join(dir, sub));
  writeFileSync(path.join(dir, 'lower1', 'a'), 'top\n');
  writeFileSync(path.join(dir, 'lower2', 'a'), 'bottom\n');
  writeFileSync(path.join(dir, 'lower2', 'b'), 'b\n');
});
afterEach(async () => {
  for (const point of (await listMounts(dir)).reverse()) await unmountPath(point);
  rmSync(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
  stopMountHelper();
});

const data = 'index=off,metacopy=off,lowerdir=lower1:lower2,upperdir=upper,workdir=work';

describe.runIf(root)('the mount helper', () => {
  it('mounts an overlay with paths relative to its cwd, and unmounts it', async () => {
    const merged = path.join(dir, 'merged');
    expect(await mountSyscall(dir, 'overlay', 'overlay', merged, data)).toBe(0);
    expect(readFileSync(path.join(merged, 'a'), 'utf8')).toBe('top\n');
    writeFileSync(path.join(merged, 'c'), 'new\n');
    expect(readFileSync(path.join(dir, 'upper', 'c'), 'utf8')).toBe('new\n');
    expect(await listMounts(dir)).toEqual([merged]);
    // Back in `/`: the helper's working directory keeps no store's file system busy.
    const helpers = spawnSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,comm='], {
      encoding: 'utf8',
    }).stdout.match(/^\s*(\d+) perl$/m);
    expect(readlinkSync(`/proc/${helpers![1]}/cwd`)).toBe('/');
    expect(await umountSyscall(merged)).toBe(0);
    expect(await listMounts(dir)).toEqual([]);
  });

  it("gives the kernel's errno for a failure", async () => {
    const merged = path.join(dir, 'merged');
    expect(await umountSyscall(merged)).toBe(EINVAL); // not a mount point
    expect(await umountSyscall(path.join(dir, 'gone'))).toBe(ENOENT);
    const missing = data.replace('lower2', 'no-such-layer');
    expect(await mountSyscall(dir, 'overlay', 'overlay', merged, missing)).toBe(ENOENT);
    expect(await mountSyscall(path.join(dir, 'gone'), 'overlay', 'overlay', merged, data)).toBe(
      ENOENT,
    );
    // Still serving after failures.
    expect(await mountSyscall(dir, 'overlay', 'overlay', merged, data)).toBe(0);
  });

  it('leaves what it cannot carry, or a missing perl, to mount(8) and umount(8)', async () => {
    expect(await umountSyscall(path.join(dir, 'new\nline'))).toBeUndefined();
    stopMountHelper();
    vi.stubEnv('PATH', path.join(dir, 'empty-bin'));
    expect(await umountSyscall(path.join(dir, 'merged'))).toBeUndefined();
    expect(await umountSyscall(path.join(dir, 'merged'))).toBeUndefined();
    vi.unstubAllEnvs();
    // overlay.ts falls back: the mount and its unmount work without the helper.
    const merged = path.join(dir, 'merged');
    const mount = await mountKernelOverlay({
      snapshotsDir: dir,
      lower: ['lower1', 'lower2'],
      upper: 'upper',
      work: 'work',
      target: merged,
    });
    expect(readFileSync(path.join(merged, 'b'), 'utf8')).toBe('b\n');
    await mount.unmount();
    expect(await listMounts(dir)).toEqual([]);
  });

  it('does not keep a program alive, and outlives a Ctrl-C sent to its process group', () => {
    const helper = JSON.stringify(new URL('./mount-helper.ts', import.meta.url).href);
    const merged = JSON.stringify(path.join(dir, 'merged'));
    const program = path.join(dir, 'program.mjs');
    // The program's group gets SIGINT after the mount (as a terminal's Ctrl-C would reach
    // it); the program ignores it, the helper is in a group of its own and must unmount.
    writeFileSync(
      program,
      `const { mountSyscall, umountSyscall } = await import(${helper});
process.on('SIGINT', () => undefined);
const mounted = await mountSyscall(${JSON.stringify(dir)}, 'overlay', 'overlay', ${merged}, ${JSON.stringify(data)});
process.kill(-process.pid, 'SIGINT');
await new Promise((r) => setTimeout(r, 100));
const unmounted = await umountSyscall(${merged});
process.stdout.write(mounted + ' ' + unmounted + '\\n');`,
    );
    // setsid: a process group of its own to signal.
    const result = spawnSync('setsid', ['--wait', process.execPath, '--no-warnings', program], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0 0\n');
    expect(result.status).toBe(0);
  });

  describe("reading a tree's extended attributes", () => {
    /** Attributes as comparable data: path → sorted [name, hex value]. */
    const plain = (map: XattrMap | undefined) =>
      map &&
      Object.fromEntries(
        [...map].map(([p, attrs]) => [
          p,
          [...attrs].map(([n, v]) => [n, v.toString('hex')]).sort(),
        ]),
      );
    const setfattr = (target: string, name: string, value: string) =>
      execFileSync('setfattr', ['-h', '-n', name, '-v', value, target]);

    it('gives what getfattr -R -h gives, for every kind of file, name and value', async () => {
      const tree = path.join(dir, 'tree');
      mkdirSync(path.join(tree, 'opaque', 'deeper'), { recursive: true });
      writeFileSync(path.join(tree, 'opaque', 'deeper', 'f'), 'x');
      writeFileSync(path.join(tree, 'cap'), 'x');
      writeFileSync(path.join(tree, 'none'), 'x');
      // A name that is not UTF-8, and one with a space and a newline.
      const odd = Buffer.concat([
        Buffer.from(`${tree}/bad-`),
        Buffer.from([0xff]),
        Buffer.from('\n x'),
      ]);
      writeFileSync(odd, 'x');
      symlinkSync('cap', path.join(tree, 'link'));
      execFileSync('mkfifo', [path.join(tree, 'fifo')]);
      setfattr(tree, 'user.root', 'r');
      setfattr(path.join(tree, 'opaque'), 'trusted.overlay.opaque', 'y');
      setfattr(path.join(tree, 'opaque', 'deeper', 'f'), 'user.bytes', '0x00ff0a203d2c3a');
      setfattr(path.join(tree, 'opaque', 'deeper', 'f'), 'user.empty', '""');
      setfattr(path.join(tree, 'cap'), 'security.capability', '0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=');
      setfattr(path.join(tree, 'link'), 'trusted.on-the-link', 'l');
      setfattr(path.join(tree, 'fifo'), 'trusted.fifo', 'f');
      // A path that is not UTF-8 reaches setfattr through the shell's printf.
      execFileSync('sh', [
        '-c',
        `setfattr -n 'user.é=,:' -v v "$(printf '%s/bad-\\377\\n x' "$1")"`,
        'sh',
        tree,
      ]);
      const fromHelper = await readXattrTree(tree, 100);
      expect(fromHelper).toBeDefined();
      // The same run of getfattr as the exporter's (exporter/xattrs.ts).
      expect(plain(fromHelper)).toEqual(plain(await readTreeXattrs(tree)));
      expect(Object.keys(plain(fromHelper)!)).toHaveLength(7);
      expect(plain(fromHelper)![path.join(tree, 'opaque', 'deeper', 'f')]).toEqual([
        ['user.bytes', '00ff0a203d2c3a'],
        ['user.empty', ''],
      ]);
    });

    it('leaves a tree of more than `limit` entries, and a failure, to getfattr', async () => {
      const tree = path.join(dir, 'tree');
      mkdirSync(path.join(tree, 'sub'), { recursive: true });
      for (const name of ['a', 'b', 'c']) writeFileSync(path.join(tree, 'sub', name), name);
      expect(await readXattrTree(tree, 5)).toEqual(new Map()); // the tree, sub and 3 files
      expect(await readXattrTree(tree, 4)).toBeUndefined();
      expect(await readXattrTree(path.join(dir, 'gone'), 100)).toBeUndefined();
      // Still serving mounts after it.
      expect(await umountSyscall(path.join(dir, 'merged'))).toBe(EINVAL);
      stopMountHelper();
      vi.stubEnv('PATH', path.join(dir, 'empty-bin'));
      expect(await readXattrTree(tree, 100)).toBeUndefined();
    });
  });

  it('sets a time to the nanosecond, on a symlink itself', async () => {
    const link = path.join(dir, 'link');
    symlinkSync('nowhere', link);
    for (const target of [path.join(dir, 'upper'), link]) {
      expect(await setTimesSyscall(target, 1_700_000_000n, 123_456_789n)).toBe(0);
      const stat = lstatSync(target, { bigint: true });
      expect(stat.mtimeNs).toBe(1_700_000_000_123_456_789n);
      expect(stat.atimeNs).toBe(1_700_000_000_123_456_789n);
    }
    expect(await setTimesSyscall(path.join(dir, 'gone'), 1n, 0n)).toBe(ENOENT);
  });
});
