/**
 * Unpack a layer tar (plain, gzip or zstd — detected by magic bytes) into a snapshot
 * directory in overlayfs upperdir form: OCI whiteouts become overlay whiteouts and opaque
 * markers. The tar is untrusted: every entry is confined to the directory (see SafeTree).
 *
 * The tar stream is read asynchronously, but the file system calls of each entry are
 * synchronous: an entry takes about seven (lstat, open, write, chown, chmod, times, close),
 * each a few microseconds, and as thread-pool round trips they made a 6,800-entry base
 * layer unpack 2–3× slower than GNU tar. The event loop still turns between chunks.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Digest } from '../shared/digest.ts';
import { inUserNamespace, overlayOpaqueXattr } from '../shared/userns.ts';
import { openDecompressed, type Compression } from './compression.ts';
import { PathEscapeError, TarFormatError, UnmappedOwnerError } from './errors.ts';
import { cleanEntryPath, parentOf, SafeTree } from './safe-tree.ts';
import { makeNode, makeWhiteouts } from './special-files.ts';
import type { TarEntry } from './tar-format.ts';
import { readTarEntries } from './tar-reader.ts';
import { isOverlayXattr, writeXattrs, type XattrMap } from './xattrs.ts';

export interface UnpackOptions {
  /** Set owners from the tar (default: when running as root). */
  preserveOwners?: boolean;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** sha256 and size of the stream as given (the compressed blob). */
  digest: Digest;
  compressedSize: number;
  compression: Compression;
  /**
   * Character and block devices left out: a rootless build's user namespace may not
   * create them (only whiteouts). The layer's blob still has them.
   */
  skippedDevices: string[];
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/** State of one unpack: work deferred to the end so it runs in batches. */
interface UnpackState {
  tree: SafeTree;
  owners: boolean;
  whiteouts: string[];
  xattrs: Map<string, Map<string, Buffer>>;
  dirTimes: Map<string, number>;
  /** In a rootless build's user namespace (ADR 17). */
  userns: boolean;
  skippedDevices: string[];
}

/**
 * Unpack `stream` into `diffDir` (created if missing). Throws PathEscapeError for entries
 * that would land or write outside it, TarFormatError for corrupt input, DeviceNodeError
 * when a device cannot be created; the tar is hashed as it is read.
 */
export async function unpackLayer(
  stream: Readable | AsyncIterable<Uint8Array>,
  diffDir: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  await mkdir(diffDir, { recursive: true });
  const rawHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let rawSize = 0;
  let tarSize = 0;
  const { compression, stream: tar } = await openDecompressed(stream, (chunk) => {
    rawHash.update(chunk);
    rawSize += chunk.length;
  });
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of tar) {
      tarHash.update(chunk);
      tarSize += chunk.length;
      yield chunk;
    }
  }
  const state: UnpackState = {
    tree: new SafeTree(diffDir),
    owners: options.preserveOwners ?? process.getuid?.() === 0,
    whiteouts: [],
    xattrs: new Map(),
    dirTimes: new Map(),
    userns: inUserNamespace(),
    skippedDevices: [],
  };
  await readTarEntries(hashed(), (entry, body) => applyEntry(state, entry, body));
  await finish(state);
  return {
    diffId: `sha256:${tarHash.digest('hex')}`,
    size: tarSize,
    digest: `sha256:${rawHash.digest('hex')}`,
    compressedSize: rawSize,
    compression,
    skippedDevices: state.skippedDevices,
  };
}

async function applyEntry(
  state: UnpackState,
  entry: TarEntry,
  body: AsyncIterable<Buffer>,
): Promise<void> {
  const { tree } = state;
  const rel = cleanEntryPath(entry.path);
  if (rel === '') return; // the root's own entry: the snapshot directory keeps its metadata
  tree.ensureParent(rel, entry.path);
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  if (base === OPAQUE_MARKER) {
    addXattr(state, parentOf(rel), overlayOpaqueXattr(), Buffer.from('y'));
    return;
  }
  if (base.startsWith(WHITEOUT_PREFIX)) {
    // `.wh..wh.*` other than the opaque marker is AUFS bookkeeping: ignored, as Docker does.
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return;
    const target = `${parentOf(rel)}${parentOf(rel) === '' ? '' : '/'}${base.slice(WHITEOUT_PREFIX.length)}`;
    tree.prepare(target, false);
    state.whiteouts.push(target);
    return;
  }
  const path = tree.abs(rel);
  const keptDir = tree.prepare(rel, entry.type === 'dir');
  switch (entry.type) {
    case 'dir':
      if (!keptDir) mkdirSync(path, { mode: 0o700 });
      tree.markDir(rel);
      state.dirTimes.set(rel, entry.mtime);
      break;
    case 'file':
      await writeFile(state, path, entry, body);
      addXattrs(state, rel, entry);
      return;
    case 'symlink':
      symlinkSync(entry.linkpath ?? '', path);
      break;
    case 'link':
      linkSync(resolveHardLink(tree, entry), path);
      return; // shares the target's inode and metadata
    default:
      if (state.userns && entry.type !== 'fifo') {
        // mknod of a device needs CAP_MKNOD in the initial namespace: left out, and said so.
        state.skippedDevices.push(rel);
        return;
      }
      await makeNode(path, entry.type, entry.mode, entry.devmajor, entry.devminor);
  }
  setMetadata(state, path, entry);
  addXattrs(state, rel, entry);
}

/**
 * O_CREAT|O_EXCL (never opens through a symlink planted at the path, nor an existing
 * file), and O_NOFOLLOW as well.
 */
const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A regular file with its content and metadata, all through one descriptor. */
async function writeFile(
  state: UnpackState,
  path: string,
  entry: TarEntry,
  body: AsyncIterable<Buffer>,
): Promise<void> {
  const fd = openSync(path, CREATE_FLAGS, 0o600);
  try {
    for await (const chunk of body) {
      for (let done = 0; done < chunk.length;) done += writeSync(fd, chunk, done);
    }
    if (state.owners) {
      try {
        fchownSync(fd, entry.uid, entry.gid);
      } catch (err) {
        explainUnmapped(entry, err);
      }
    }
    // chmod after chown: chown clears setuid/setgid bits.
    fchmodSync(fd, entry.mode & 0o7777);
    futimesSync(fd, entry.mtime, entry.mtime);
  } finally {
    closeSync(fd);
  }
}

/** A hard link's target: inside the layer, already unpacked, not a directory. */
function resolveHardLink(tree: SafeTree, entry: TarEntry): string {
  const target = cleanEntryPath(entry.linkpath ?? '');
  if (target === '') throw new PathEscapeError(entry.path, 'is a hard link to the layer root');
  tree.ensureParent(target, entry.path);
  const stat = lstatSync(tree.abs(target), { throwIfNoEntry: false });
  if (stat === undefined) {
    throw new PathEscapeError(
      entry.path,
      `is a hard link to "${entry.linkpath}", which is not earlier in this layer`,
    );
  }
  if (stat.isDirectory())
    throw new TarFormatError(`tar entry "${entry.path}" is a hard link to a directory`);
  return tree.abs(target);
}

/** Owner, mode and time of a directory, symlink or special file just made at `path`. */
function setMetadata(state: UnpackState, path: string, entry: TarEntry): void {
  if (state.owners) {
    try {
      lchownSync(path, entry.uid, entry.gid);
    } catch (err) {
      explainUnmapped(entry, err);
    }
  }
  // chmod after chown: chown clears setuid/setgid bits.
  if (entry.type !== 'symlink') chmodSync(path, entry.mode & 0o7777);
  if (entry.type !== 'dir') lutimesSync(path, entry.mtime, entry.mtime);
}

function addXattrs(state: UnpackState, rel: string, entry: TarEntry): void {
  for (const [name, value] of entry.xattrs ?? []) {
    if (!isOverlayXattr(name)) addXattr(state, rel, name, value);
  }
}

/** EINVAL from chown in a user namespace: the owner is not mapped (no subordinate ids). */
function explainUnmapped(entry: TarEntry, err: unknown): never {
  if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  throw new UnmappedOwnerError(entry.path, entry.uid, entry.gid, { cause: err });
}

function addXattr(state: UnpackState, rel: string, name: string, value: Buffer): void {
  let attrs = state.xattrs.get(rel);
  if (!attrs) state.xattrs.set(rel, (attrs = new Map()));
  attrs.set(name, value);
}

/**
 * The batched work: whiteouts, extended attributes, then directory times (children
 * changed them). A later entry may have replaced a parent, so each path is re-checked.
 */
async function finish(state: UnpackState): Promise<void> {
  const { tree } = state;
  await makeWhiteouts(
    state.whiteouts.filter((rel) => tree.hasSafeParent(rel)).map((rel) => tree.abs(rel)),
  );
  const xattrs: XattrMap = new Map();
  for (const [rel, attrs] of state.xattrs) {
    if (rel === '' || tree.hasSafeParent(rel)) xattrs.set(tree.abs(rel), attrs);
  }
  await writeXattrs(xattrs);
  const dirs = [...state.dirTimes].filter(([rel]) => tree.isDir(rel));
  dirs.sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [rel, mtime] of dirs) utimesSync(tree.abs(rel), mtime, mtime);
}
