/**
 * Extended attributes for the snapshotters that are not kernel overlayfs (copy and
 * fuse-overlayfs): read a whole tree with one `getfattr -R`, or a list of paths, and write
 * a batch with one `setfattr --restore` (Debian package `attr`, which builds need anyway).
 */
import { rm, writeFile } from 'node:fs/promises';
import { runCommand } from './command.ts';
import { MountError } from './errors.ts';
import { formatXattrDump, parseXattrDump, type XattrMap } from '../shared/xattr-dump.ts';

export type { XattrMap };

/** overlayfs's private attributes, in either namespace: never copied between layers. */
export function isOverlayXattr(name: string): boolean {
  return (
    name.startsWith('trusted.overlay.') ||
    name.startsWith('user.overlay.') ||
    name.startsWith('user.fuseoverlayfs.')
  );
}

/** Every attribute under `dir` (symlinks not followed), keyed by absolute path. */
export async function readTreeXattrs(dir: string): Promise<XattrMap> {
  return parseXattrDump(await getfattr(['-R', dir]));
}

/** The attributes of `paths` (not recursive). */
export async function readPathXattrs(paths: readonly string[]): Promise<XattrMap> {
  const map: XattrMap = new Map();
  // Bounded argument lists: ARG_MAX is large, but a tree can list tens of thousands of dirs.
  for (let i = 0; i < paths.length; i += 500) {
    for (const [p, attrs] of parseXattrDump(await getfattr(paths.slice(i, i + 500))))
      map.set(p, attrs);
  }
  return map;
}

/**
 * getfattr's dump, each byte one character: it writes a name's bytes as they are (only
 * control characters and a few others as `\ooo`), and parseXattrDump reads the text as
 * bytes. Decoded as UTF-8 here, a file named `café` became `caf\ufffd` and lost its
 * attributes in the copy and fuse-overlayfs snapshotters.
 */
async function getfattr(args: readonly string[]): Promise<string> {
  const result = await runCommand(
    'getfattr',
    ['-h', '--absolute-names', '-e', 'base64', '-m', '-', '-d', ...args],
    { stdoutEncoding: 'latin1' },
  ).catch((err: Error) => {
    throw new MountError(`could not run getfattr: ${err.message}`, {
      hint: 'Install the attr tools (Debian package attr).',
      cause: err,
    });
  });
  if (result.code !== 0 && result.stdout === '')
    throw new MountError(`getfattr failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Set and remove attributes in one setfattr run: `set` values, `remove` names. The dump
 * goes through a file beside the tree (`scratch`), removed afterwards.
 */
export async function writeXattrs(
  set: XattrMap,
  scratch: string,
  remove: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<void> {
  const dump = formatXattrDump(set);
  if (dump !== '') {
    await writeFile(scratch, dump);
    try {
      await setfattr([`--restore=${scratch}`]);
    } finally {
      await rm(scratch, { force: true });
    }
  }
  // A dump cannot remove: one `setfattr -x NAME FILE…` per name.
  const byName = new Map<string, string[]>();
  for (const [file, names] of remove) {
    for (const name of names) byName.set(name, [...(byName.get(name) ?? []), file]);
  }
  for (const [name, files] of byName) {
    for (let i = 0; i < files.length; i += 500)
      await setfattr(['-x', name, ...files.slice(i, i + 500)]);
  }
}

async function setfattr(args: readonly string[]): Promise<void> {
  const result = await runCommand('setfattr', ['-h', ...args]);
  if (result.code !== 0) throw new MountError(`setfattr failed: ${result.stderr.trim()}`);
}
