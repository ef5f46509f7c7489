/**
 * The text format of `getfattr --dump` and `setfattr --restore` (Debian package `attr`):
 * `# file: PATH` blocks of `NAME=VALUE` lines, names and paths with `\ooo` octal escapes.
 * One parser and one writer for the exporter's layers and exec's snapshotters.
 */

/** Absolute path → (attribute name → value). */
export type XattrMap = Map<string, Map<string, Buffer>>;

/** Parse a getfattr dump (values in any of its encodings: `0s` base64, `0x` hex, quoted). */
export function parseXattrDump(dump: string): XattrMap {
  const map: XattrMap = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of dump.split('\n')) {
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

/** The setfattr --restore input for `map` (base64 values); '' when there is nothing to set. */
export function formatXattrDump(map: XattrMap): string {
  let out = '';
  for (const [path, attrs] of map) {
    if (attrs.size === 0) continue;
    out += `# file: ${escapeName(path)}\n`;
    for (const [name, value] of attrs) out += `${escapeName(name)}=0s${value.toString('base64')}\n`;
    out += '\n';
  }
  return out;
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
