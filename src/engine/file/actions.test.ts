import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  linkSync,
  existsSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CopyAction, FileAction } from '../../llb/types.ts';
import { applyFileActions } from './actions.ts';

let work: string;
let ctxDir: string;
let root: string;

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'tbuild-fileop-'));
  ctxDir = path.join(work, 'context');
  root = path.join(work, 'root');
  mkdirSync(ctxDir);
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  writeFileSync(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n',
  );
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nstaff:x:50:\napp:x:1001:\n');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function copy(src: string, dest: string, extra: Partial<CopyAction> = {}): CopyAction {
  return {
    action: 'copy',
    source: 0,
    src,
    dest,
    followSymlinks: true,
    dirContentsOnly: true,
    attemptUnpack: false,
    createDestPath: true,
    allowWildcard: true,
    allowEmptyWildcard: false,
    ...extra,
  };
}

async function apply(...actions: FileAction[]): Promise<void> {
  let n = 0;
  const temp = async () => {
    const d = path.join(work, `tmp${n++}`);
    mkdirSync(d);
    return d;
  };
  await applyFileActions(
    { dest: root, tempDir: temp },
    [{ root: ctxDir, owner: { uid: 0, gid: 0 } }],
    actions,
    temp,
  );
}

function attrs(p: string): string {
  const st = lstatSync(path.join(root, p));
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
  return `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
}

describe('COPY and ADD file actions', () => {
  it('copies a file into a directory named with a trailing slash, owned by root with its mode', async () => {
    writeFileSync(path.join(ctxDir, 'run.sh'), 'echo hi');
    execFileSync('chown', ['1234:1234', path.join(ctxDir, 'run.sh')]);
    chmodSync(path.join(ctxDir, 'run.sh'), 0o4755);
    await apply(copy('run.sh', '/usr/local/bin/'));
    expect(attrs('usr/local/bin/run.sh')).toBe('file 4755 0:0');
    expect(attrs('usr/local')).toBe('dir 755 0:0');
  });

  // BuildKit creates a missing destination directory with mkdir -p semantics (0755), not the source's mode.
  it('copies a directory by its contents into a new 0755 destination', async () => {
    mkdirSync(path.join(ctxDir, 'src/sub'), { recursive: true });
    chmodSync(path.join(ctxDir, 'src'), 0o750);
    writeFileSync(path.join(ctxDir, 'src/sub/a.txt'), 'a');
    await apply(copy('src', '/app'));
    expect(readFileSync(path.join(root, 'app/sub/a.txt'), 'utf8')).toBe('a');
    expect(attrs('app')).toBe('dir 755 0:0');
    expect(existsSync(path.join(root, 'app/src'))).toBe(false);
  });

  // FROM scratch + COPY . / : the root is the destination; its parent is outside.
  it('copies a directory by its contents into the root', async () => {
    mkdirSync(path.join(ctxDir, 'bin'));
    writeFileSync(path.join(ctxDir, 'bin/app'), 'app');
    writeFileSync(path.join(ctxDir, 'top.txt'), 'top');
    await apply(copy('.', '/'), copy('bin', '/'));
    expect(readFileSync(path.join(root, 'bin/app'), 'utf8')).toBe('app');
    expect(readFileSync(path.join(root, 'top.txt'), 'utf8')).toBe('top');
    expect(readFileSync(path.join(root, 'app'), 'utf8')).toBe('app');
  });

  it('keeps the metadata of an existing destination directory', async () => {
    mkdirSync(path.join(root, 'app'), { mode: 0o700 });
    chmodSync(path.join(root, 'app'), 0o700);
    mkdirSync(path.join(ctxDir, 'src'));
    writeFileSync(path.join(ctxDir, 'src/x'), 'x');
    await apply(copy('src', '/app'));
    expect(attrs('app')).toBe('dir 700 0:0');
    expect(attrs('app/x')).toBe('file 644 0:0');
  });

  it('writes through a symlink in the image but never outside the root', async () => {
    mkdirSync(path.join(root, 'opt/app'), { recursive: true });
    symlinkSync('/opt/app', path.join(root, 'app'));
    symlinkSync('/', path.join(root, 'escape'));
    writeFileSync(path.join(ctxDir, 'f'), 'f');
    await apply(copy('f', '/app/'), copy('f', '/escape/../../../outside/'));
    expect(readFileSync(path.join(root, 'opt/app/f'), 'utf8')).toBe('f');
    expect(readFileSync(path.join(root, 'outside/f'), 'utf8')).toBe('f');
    expect(existsSync(path.join(work, 'outside'))).toBe(false);
  });

  it('expands wildcards and copies every match into the directory', async () => {
    for (const f of ['a.txt', 'b.txt', 'c.md']) writeFileSync(path.join(ctxDir, f), f);
    await apply(copy('*.txt', '/docs/'));
    expect(
      existsSync(path.join(root, 'docs/a.txt')) && existsSync(path.join(root, 'docs/b.txt')),
    ).toBe(true);
    expect(existsSync(path.join(root, 'docs/c.md'))).toBe(false);
  });

  it('fails with a typed error when a source does not exist', async () => {
    await expect(apply(copy('missing.txt', '/x'))).rejects.toMatchObject({
      code: 'TBUILD_COPY_SOURCE_NOT_FOUND',
    });
    await expect(apply(copy('nomatch*', '/x/'))).rejects.toMatchObject({
      code: 'TBUILD_COPY_SOURCE_NOT_FOUND',
    });
  });

  it('resolves --chown names from the destination passwd and group files', async () => {
    writeFileSync(path.join(ctxDir, 'f'), 'f');
    await apply(
      copy('f', '/a/f', { chown: { user: { name: 'app' } } }),
      copy('f', '/b/f', { chown: { user: { name: 'app' }, group: { name: 'staff' } } }),
      copy('f', '/c/f', { chown: { user: { id: 42 } } }),
    );
    expect(attrs('a/f')).toBe('file 644 1000:1001');
    expect(attrs('a')).toBe('dir 755 1000:1001');
    expect(attrs('b/f')).toBe('file 644 1000:50');
    expect(attrs('c/f')).toBe('file 644 42:42');
    await expect(
      apply(copy('f', '/d/f', { chown: { user: { name: 'nobody' } } })),
    ).rejects.toMatchObject({
      code: 'TBUILD_UNKNOWN_USER',
    });
  });

  it('applies --chmod, octal and symbolic, to files and directories', async () => {
    mkdirSync(path.join(ctxDir, 'd'));
    writeFileSync(path.join(ctxDir, 'd/f'), 'f');
    await apply(copy('d', '/oct/', { mode: 0o700 }), copy('d', '/sym/', { mode: 'u+x,g-r,o=' }));
    expect(attrs('oct/f')).toBe('file 700 0:0');
    expect(attrs('sym/f')).toBe('file 700 0:0');
  });

  it('copies symlinks inside a tree as links and follows a symlink named as the source', async () => {
    mkdirSync(path.join(ctxDir, 'd'));
    writeFileSync(path.join(ctxDir, 'target.txt'), 't');
    symlinkSync('../target.txt', path.join(ctxDir, 'd/link'));
    symlinkSync('target.txt', path.join(ctxDir, 'direct'));
    await apply(copy('d', '/tree'), copy('direct', '/followed'));
    expect(readlinkSync(path.join(root, 'tree/link'))).toBe('../target.txt');
    expect(attrs('followed')).toBe('file 644 0:0');
  });

  it('keeps hard links within one copy', async () => {
    mkdirSync(path.join(ctxDir, 'd'));
    writeFileSync(path.join(ctxDir, 'd/a'), 'same');
    linkSync(path.join(ctxDir, 'd/a'), path.join(ctxDir, 'd/b'));
    await apply(copy('d', '/h'));
    expect(lstatSync(path.join(root, 'h/a')).ino).toBe(lstatSync(path.join(root, 'h/b')).ino);
  });

  it('copies a wide tree concurrently, keeping set-id modes, times, owners and every hard link', async () => {
    const when = new Date('2020-01-02T03:04:05Z');
    for (let d = 0; d < 8; d++) {
      mkdirSync(path.join(ctxDir, `t/d${d}/sub`), { recursive: true });
      for (let f = 0; f < 12; f++) {
        const file = path.join(ctxDir, `t/d${d}/sub/f${f}`);
        writeFileSync(file, `${d}/${f}`);
        chmodSync(file, f % 2 ? 0o4755 : 0o640);
        utimesSync(file, when, when);
        linkSync(file, path.join(ctxDir, `t/d${d}/l${f}`));
      }
      utimesSync(path.join(ctxDir, `t/d${d}/sub`), when, when);
    }
    await apply(copy('t', '/plain'), copy('t', '/owned', { chown: { user: { id: 1000 } } }));
    for (const top of ['plain', 'owned']) {
      const owner = top === 'plain' ? '0:0' : '1000:1000';
      expect(attrs(`${top}/d3/sub/f5`)).toBe(`file 4755 ${owner}`);
      expect(attrs(`${top}/d7/sub/f2`)).toBe(`file 640 ${owner}`);
      expect(lstatSync(path.join(root, `${top}/d4/sub`)).mtime).toEqual(when);
      expect(lstatSync(path.join(root, `${top}/d4/sub/f9`)).mtime).toEqual(when);
      for (let d = 0; d < 8; d++)
        for (let f = 0; f < 12; f++)
          expect(lstatSync(path.join(root, `${top}/d${d}/l${f}`)).ino).toBe(
            lstatSync(path.join(root, `${top}/d${d}/sub/f${f}`)).ino,
          );
    }
  });

  it('matches --exclude below the copied directory, whether the destination exists or not', async () => {
    mkdirSync(path.join(ctxDir, 'dir'));
    writeFileSync(path.join(ctxDir, 'dir/a.txt'), 'a');
    writeFileSync(path.join(ctxDir, 'dir/b.md'), 'b');
    mkdirSync(path.join(root, 'existing'));
    await apply(
      copy('dir', '/new', { exclude: ['*.txt'] }),
      copy('dir', '/existing', { exclude: ['*.txt'] }),
    );
    for (const dest of ['new', 'existing']) {
      expect(existsSync(path.join(root, dest, 'a.txt'))).toBe(false);
      expect(existsSync(path.join(root, dest, 'b.md'))).toBe(true);
    }
  });

  it('honours --exclude and --parents', async () => {
    mkdirSync(path.join(ctxDir, 'pkg/a'), { recursive: true });
    writeFileSync(path.join(ctxDir, 'pkg/a/keep.go'), 'k');
    writeFileSync(path.join(ctxDir, 'pkg/a/skip_test.go'), 's');
    await apply(
      copy('pkg', '/ex', { exclude: ['**/*_test.go'] }),
      copy('pkg/a/keep.go', '/par/', { parents: true }),
    );
    expect(existsSync(path.join(root, 'ex/a/keep.go'))).toBe(true);
    expect(existsSync(path.join(root, 'ex/a/skip_test.go'))).toBe(false);
    expect(readFileSync(path.join(root, 'par/pkg/a/keep.go'), 'utf8')).toBe('k');
  });

  it('extracts local tar archives for ADD, keeping the archive owners', async () => {
    const src = path.join(work, 'arc');
    mkdirSync(path.join(src, 'inner'), { recursive: true });
    writeFileSync(path.join(src, 'inner/file'), 'from tar');
    execFileSync('tar', [
      '-czf',
      path.join(ctxDir, 'a.tar.gz'),
      '--owner=7',
      '--group=8',
      '-C',
      src,
      '.',
    ]);
    execFileSync('tar', ['-cJf', path.join(ctxDir, 'a.tar.xz'), '-C', src, '.']);
    await apply(
      copy('a.tar.gz', '/gz/', { attemptUnpack: true }),
      copy('a.tar.xz', '/xz', { attemptUnpack: true }),
    );
    expect(readFileSync(path.join(root, 'gz/inner/file'), 'utf8')).toBe('from tar');
    expect(attrs('gz/inner/file')).toBe('file 644 7:8');
    expect(readFileSync(path.join(root, 'xz/inner/file'), 'utf8')).toBe('from tar');
  });

  it('makes directories, files, symlinks and removes paths', async () => {
    await apply(
      {
        action: 'mkdir',
        path: '/w/x/y',
        mode: 0o755,
        makeParents: true,
        chown: { user: { id: 5 } },
      },
      { action: 'mkfile', path: '/w/f.sh', mode: 0o755, data: 'echo\n' },
      { action: 'symlink', target: 'f.sh', path: '/w/l' },
      { action: 'rm', path: '/w/x', allowNotFound: false, allowWildcard: false },
    );
    expect(attrs('w/f.sh')).toBe('file 755 0:0');
    expect(readlinkSync(path.join(root, 'w/l'))).toBe('f.sh');
    expect(existsSync(path.join(root, 'w/x'))).toBe(false);
    expect(attrs('w')).toBe('dir 755 5:5');
  });
});

describe('ADD from the build context', () => {
  it('extracts an archive even though the context filter does not list the extracted paths', async () => {
    const src = path.join(work, 'arc2');
    mkdirSync(path.join(src, 'inner'), { recursive: true });
    writeFileSync(path.join(src, 'inner/file'), 'x');
    execFileSync('tar', ['-czf', path.join(ctxDir, 'b.tgz'), '-C', src, 'inner']);
    let n = 0;
    const temp = async () => {
      const d = path.join(work, `t${n++}`);
      mkdirSync(d);
      return d;
    };
    const visible = (rel: string) => rel === '' || rel === 'b.tgz';
    await applyFileActions(
      { dest: root, tempDir: temp },
      [{ root: ctxDir, owner: { uid: 0, gid: 0 }, visible }],
      [copy('b.tgz', '/srv/', { attemptUnpack: true })],
      temp,
    );
    expect(readFileSync(path.join(root, 'srv/inner/file'), 'utf8')).toBe('x');
  });
});
