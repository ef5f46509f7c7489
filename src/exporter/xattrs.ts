/**
 * Extended attributes through getfattr/setfattr (Debian package `attr`), one process per
 * tree: `getfattr -R --dump` reads a whole layer, `setfattr --restore` writes a batch.
 */
import { formatXattrDump, parseXattrDump, type XattrMap } from '../shared/xattr-dump.ts';
import { runTool } from './tools.ts';

export type { XattrMap };

/**
 * The overlayfs-private attributes: never carried in a tar, never taken from one. Both
 * namespaces, whatever this process uses: a rootless store's overlay writes `user.overlay.*`
 * (ADR 17), and a layer must not smuggle an opaque mark or a redirect into either.
 */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/**
 * Every extended attribute under `dir` (not following symlinks), keyed by absolute path.
 * `pattern` is getfattr's `-m` regular expression (all names by default).
 */
export async function readXattrs(dir: string, pattern = '-'): Promise<XattrMap> {
  const out = await runTool('getfattr', [
    '-R',
    '-h',
    '--absolute-names',
    '-e',
    'base64',
    '-m',
    pattern,
    '-d',
    dir,
  ]);
  return parseXattrDump(out.toString('latin1'));
}

/** Set attributes in one setfattr run (symlinks themselves, not their targets). */
export async function writeXattrs(map: XattrMap): Promise<void> {
  const dump = formatXattrDump(map);
  if (dump !== '') await runTool('setfattr', ['-h', '--restore=-'], Buffer.from(dump, 'latin1'));
}
