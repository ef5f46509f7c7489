/**
 * Extended attributes through getfattr/setfattr (Debian package `attr`), one process per
 * tree: `getfattr -R --dump` reads a whole layer, `setfattr --restore` writes a batch.
 */
import { runTool } from './tools.ts';

/** Absolute path → (attribute name → value). */
export type XattrMap = Map<string, Map<string, Buffer>>;

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
  return parseDump(out);
}

/** Set attributes in one setfattr run (symlinks themselves, not their targets). */
export async function writeXattrs(map: XattrMap): Promise<void> {
  if (map.size === 0) return;
  const parts: Buffer[] = [];
  for (const [path, attrs] of map) {
    if (attrs.size === 0) continue;
    parts.push(Buffer.from(`# file: ${escapeName(path)}\n`));
    for (const [name, value] of attrs) {
      parts.push(Buffer.from(`${escapeName(name)}=0s${value.toString('base64')}\n`));
    }
    parts.push(Buffer.from('\n'));
  }
  if (parts.length > 0) await runTool('setfattr', ['-h', '--restore=-'], Buffer.concat(parts));
}

function parseDump(dump: Buffer): XattrMap {
  const map: XattrMap = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of dump.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      map.set(unescapeName(line.slice('# file: '.length)), current);
    } else if (line !== '' && current) {
      const eq = line.indexOf('=');
      const name = unescapeName(eq === -1 ? line : line.slice(0, eq));
      current.set(name, decodeValue(eq === -1 ? '' : line.slice(eq + 1)));
    }
  }
  return map;
}

function decodeValue(text: string): Buffer {
  if (text.startsWith('0s')) return Buffer.from(text.slice(2), 'base64');
  if (text.startsWith('0x')) return Buffer.from(text.slice(2), 'hex');
  if (text.startsWith('"') && text.endsWith('"')) {
    return Buffer.from(unescapeName(text.slice(1, -1)), 'utf8');
  }
  return Buffer.from(text, 'latin1');
}

/** getfattr writes bytes outside printable ASCII (and `\`) as `\ooo` octal escapes. */
function unescapeName(text: string): string {
  const bytes = Buffer.from(
    text.replace(/\\([0-7]{3})|\\\\/g, (m, oct?: string) =>
      String.fromCharCode(oct ? parseInt(oct, 8) : 0x5c),
    ),
    'latin1',
  );
  return bytes.toString('utf8');
}

function escapeName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    out +=
      byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d
        ? `\\${byte.toString(8).padStart(3, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}
