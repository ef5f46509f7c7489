/**
 * The tar format: POSIX ustar headers with PAX extended records, written and read here.
 *
 * Why not node-tar's Header/Pax: its Pax class can neither write nor read `SCHILY.xattr.*`
 * records (it drops unknown keys), and layers must carry `security.capability`; and a layer's
 * digest depends on every header byte, so tbuild owns the exact encoding (no atime/ctime, no
 * user/group names, whole-second mtimes) to keep exports reproducible across versions.
 */
import { TarFormatError } from './errors.ts';

export const BLOCK = 512;

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One tar entry's metadata. `size` is 0 for everything but regular files. */
export interface TarEntry {
  /** Relative path with `/` separators; directories without a trailing slash. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (whole seconds). */
  mtime: number;
  /** Symlink target, or the hard link's target path inside the archive. */
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as `SCHILY.xattr.<name>` PAX records. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** The header block(s) for an entry: an optional PAX `x` header, then the ustar header. */
export function encodeEntryHeader(entry: TarEntry): Buffer {
  const { name, fields, records } = headerParts(entry);
  const header = encodeUstar(fields);
  if (records.length === 0) return header;
  const body = Buffer.concat(records);
  const pax = encodeUstar({
    name: asciiTail(`PaxHeaders/${name.split('/').filter(Boolean).pop() ?? ''}`),
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([pax, body, Buffer.alloc(padding(body.length)), header]);
}

/**
 * Write `entry`'s header into `target` at `offset` when it is one plain ustar block (no
 * PAX records are needed), with the same bytes encodeEntryHeader gives; false, writing
 * nothing, otherwise. Layer tars write most headers this way, without a buffer each.
 */
export function writePlainHeader(entry: TarEntry, target: Buffer, offset: number): boolean {
  const { fields, records } = headerParts(entry);
  if (records.length > 0) return false;
  target.fill(0, offset, offset + BLOCK);
  writeUstar(target, offset, fields);
  return true;
}

/**
 * An entry's ustar fields, and the PAX records for what they cannot hold (a long or
 * non-ASCII name or link, large ids, size or time, extended attributes).
 */
function headerParts(entry: TarEntry): { name: string; fields: UstarFields; records: Buffer[] } {
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const records: Buffer[] = [];
  const fitsName = fitsUstarText(name);
  if (!fitsName) records.push(paxRecord('path', Buffer.from(name)));
  const link = entry.linkpath ?? '';
  const fitsLink = link === '' || fitsUstarText(link);
  if (!fitsLink) records.push(paxRecord('linkpath', Buffer.from(link)));
  if (entry.size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(entry.size))));
  if (entry.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(entry.uid))));
  if (entry.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(entry.gid))));
  if (entry.mtime < 0 || entry.mtime > MAX_OCTAL_11) {
    records.push(paxRecord('mtime', Buffer.from(String(entry.mtime))));
  }
  if (entry.xattrs) {
    for (const key of [...entry.xattrs.keys()].sort()) {
      records.push(paxRecord(`SCHILY.xattr.${key}`, entry.xattrs.get(key)!));
    }
  }
  const fields: UstarFields = {
    name: fitsName ? name : asciiTail(name),
    typeflag: TYPEFLAG[entry.type],
    mode: entry.mode & 0o7777,
    uid: entry.uid > MAX_OCTAL_7 ? 0 : entry.uid,
    gid: entry.gid > MAX_OCTAL_7 ? 0 : entry.gid,
    size: entry.size > MAX_OCTAL_11 ? 0 : entry.size,
    mtime: entry.mtime < 0 || entry.mtime > MAX_OCTAL_11 ? 0 : entry.mtime,
    linkname: fitsLink ? link : '',
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  };
  return { name, fields, records };
}

/** Zero bytes needed after `size` bytes of content to reach a block boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** Text a ustar name or link field holds as it is: plain ASCII (a byte a character), ≤ 100. */
function fitsUstarText(s: string): boolean {
  return s.length <= 100 && /^[\x20-\x7e]*$/.test(s);
}

/** A readable stand-in for a name that lives in a PAX record (the real name wins on read). */
function asciiTail(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(-100);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const base = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let length = base + String(base).length;
  if (String(length).length > String(base).length) length = base + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

interface UstarFields {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function encodeUstar(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeUstar(b, 0, f);
  return b;
}

const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');

/** A ustar header block at `at`, which must be zero. */
function writeUstar(b: Buffer, at: number, f: UstarFields): void {
  b.write(f.name, at, 100, 'utf8');
  writeOctal(b, at + 100, 8, f.mode);
  writeOctal(b, at + 108, 8, f.uid);
  writeOctal(b, at + 116, 8, f.gid);
  writeOctal(b, at + 124, 12, f.size);
  writeOctal(b, at + 136, 12, f.mtime);
  b[at + 156] = f.typeflag.charCodeAt(0);
  if (f.linkname !== '') b.write(f.linkname, at + 157, 100, 'utf8');
  USTAR_MAGIC.copy(b, at + 257);
  writeNumber(b, at + 329, 8, f.devmajor);
  writeNumber(b, at + 337, 8, f.devminor);
  b.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += b[i]!;
  writeOctal(b, at + 148, 7, sum); // six digits and a NUL, then the space already there
}

/** `value` in octal, zero-padded to `width - 1` digits, then a NUL (the field is zero). */
function writeOctal(b: Buffer, offset: number, width: number, value: number): void {
  let v = Math.trunc(value);
  for (let i = offset + width - 2; i >= offset; i--) {
    b[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  b[offset + width - 1] = 0;
}

/** Octal when it fits, else GNU base-256 (device numbers have no PAX key). */
function writeNumber(b: Buffer, offset: number, width: number, value: number): void {
  if (value <= 8 ** (width - 1) - 1) return writeOctal(b, offset, width, value);
  b.fill(0, offset, offset + width);
  b[offset] = 0x80;
  let v = value;
  for (let i = offset + width - 1; i > offset && v > 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** A ustar header block as read, before PAX/GNU overrides are applied. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Parse one header block; `null` for an all-zero block (end of archive). */
export function decodeHeader(block: Buffer): RawHeader | null {
  if (block.every((byte) => byte === 0)) return null;
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarFormatError('tar header checksum mismatch: the stream is not a valid tar archive');
  }
  const magic = block.toString('latin1', 257, 263);
  let name = readString(block, 0, 100);
  const prefix = magic === 'ustar\u0000' ? readString(block, 345, 155) : '';
  if (prefix !== '') name = `${prefix}/${name}`;
  return {
    name,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    typeflag: block.toString('latin1', 156, 157),
    linkname: readString(block, 157, 100),
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8),
  };
}

function readString(b: Buffer, offset: number, width: number): string {
  const field = b.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? width : end);
}

function readNumber(b: Buffer, offset: number, width: number): number {
  if ((b[offset]! & 0x80) !== 0) {
    let v = b[offset]! & 0x7f;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + b[i]!;
    return v;
  }
  // Fields may be padded with leading spaces and end in NUL or space.
  const text = b
    .toString('latin1', offset, offset + width)
    .replace(/^[ \0]+/, '')
    .replace(/[\0 ].*$/s, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new TarFormatError(`tar header has an invalid number field "${text}"`);
  }
  return parseInt(text, 8);
}

/** Parse a PAX extended header body into key → raw value bytes. */
export function decodePaxRecords(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break;
    const space = body.indexOf(0x20, pos);
    const length = parseInt(body.toString('latin1', pos, space), 10);
    if (space === -1 || !Number.isInteger(length) || length <= 0 || pos + length > body.length) {
      throw new TarFormatError('tar PAX header has a malformed record');
    }
    const record = body.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new TarFormatError('tar PAX record has no "="');
    out.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return out;
}
