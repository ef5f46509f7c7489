/**
 * Extended attributes for the snapshotters that are not kernel overlayfs (copy and
 * fuse-overlayfs): read a whole tree with one `getfattr -R`, or a list of paths, and write
 * a batch with one `setfattr --restore` (Debian package `attr`, which builds need anyway).
 */
import { rm, writeFile } from 'node:fs/promises';
import { runCommand } from './command.ts';
import { MountError } from './errors.ts';

/** Absolute path → (attribute name → value). */
export type XattrMap = Map<string, Map<string, Buffer>>;

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
  return parseDump(await getfattr(['-R', dir]));
}

/** The attributes of `paths` (not recursive). */
export async function readPathXattrs(paths: readonly string[]): Promise<XattrMap> {
  const map: XattrMap = new Map();
  // Bounded argument lists: ARG_MAX is large, but a tree can list tens of thousands of dirs.
  for (let i = 0; i < paths.length; i += 500) {
    for (const [p, attrs] of parseDump(await getfattr(paths.slice(i, i + 500)))) map.set(p, attrs);
  }
  return map;
}

async function getfattr(args: readonly string[]): Promise<string> {
  const result = await runCommand('getfattr', [
    '-h',
    '--absolute-names',
    '-e',
    'base64',
    '-m',
    '-',
    '-d',
    ...args,
  ]).catch((err: Error) => {
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
  const lines: string[] = [];
  for (const [file, attrs] of set) {
    if (attrs.size === 0) continue;
    lines.push(`# file: ${escape(file)}`);
    for (const [name, value] of attrs) lines.push(`${escape(name)}=0s${value.toString('base64')}`);
    lines.push('');
  }
  if (lines.length > 0) {
    await writeFile(scratch, lines.join('\n') + '\n');
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

function parseDump(dump: string): XattrMap {
  const map: XattrMap = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of dump.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      map.set(unescape(line.slice('# file: '.length)), current);
    } else if (line !== '' && current) {
      const eq = line.indexOf('=');
      const name = unescape(eq === -1 ? line : line.slice(0, eq));
      const text = eq === -1 ? '' : line.slice(eq + 1);
      current.set(
        name,
        text.startsWith('0s')
          ? Buffer.from(text.slice(2), 'base64')
          : text.startsWith('0x')
            ? Buffer.from(text.slice(2), 'hex')
            : Buffer.from(text.replace(/^"|"$/g, ''), 'utf8'),
      );
    }
  }
  return map;
}

/** getfattr writes bytes outside printable ASCII, `\` and `=` as `\ooo` octal. */
function unescape(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const octal = /^\\([0-7]{3})/.exec(text.slice(i, i + 4));
    if (octal) {
      bytes.push(parseInt(octal[1]!, 8));
      i += 3;
    } else bytes.push(...Buffer.from(text[i]!, 'latin1'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function escape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d
        ? `\\${byte.toString(8).padStart(3, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}
