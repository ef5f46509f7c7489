/**
 * Users and safe paths inside a root filesystem. A rootfs comes from an image, so its
 * symlinks are untrusted: every lookup resolves them as if `rootfs` were `/`.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { closestMatch } from '../shared/errors.ts';
import { UnknownUserError } from './errors.ts';

const MAX_SYMLINKS = 255;

/**
 * Join `unsafePath` to `rootfs` following symlinks as the container would see them:
 * absolute link targets and `..` never leave `rootfs` (like Go's securejoin). Missing
 * components are appended as they are. The final component is followed unless
 * `followFinal` is false (an lchown/rm/symlink target). Returns a host path inside rootfs.
 */
export async function resolveInRoot(
  rootfs: string,
  unsafePath: string,
  followFinal = true,
): Promise<string> {
  const root = path.resolve(rootfs);
  const pending = splitPath(unsafePath);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    if (!followFinal && pending.length === 0) {
      resolved.push(part);
      break;
    }
    const candidate = path.join(root, ...resolved, part);
    const info = lstatMissing(candidate);
    if (info?.isSymbolicLink() !== true) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`too many levels of symbolic links in ${unsafePath}`), {
        code: 'ELOOP',
      });
    }
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return path.join(root, ...resolved);
}

/**
 * lstat(2), or undefined for a path that is not there. Synchronous, as the other small
 * steps of a RUN's set-up (ADR 20): a few microseconds, where a thread-pool round trip
 * costs tens, and a RUN resolves some thirty paths before runc starts.
 */
function lstatMissing(candidate: string): Stats | undefined {
  try {
    return lstatSync(candidate);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((part) => part !== '');
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /**
   * Supplementary groups, as current BuildKit sets them: the process's own gid, then the
   * groups of /etc/group that list the user; with an explicit group, that gid only.
   */
  additionalGids: number[];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * Resolve a Dockerfile USER (`name`, `uid`, `name:group`, `uid:gid`, empty = root)
 * against the rootfs's /etc/passwd and /etc/group, with current BuildKit's rules: a known
 * user gets its passwd gid and, unless a group is given, the groups that list it as
 * member; an unknown numeric uid is used as is with gid 0; an unknown name is an error.
 * The supplementary groups always hold the process's own gid (ADR 0015).
 */
export async function resolveUser(rootfs: string, user: string): Promise<ResolvedUser> {
  const [userArg = '', groupArg] = splitOnce(user.trim(), ':');
  if (/^\d+$/.test(userArg) && groupArg !== undefined && /^\d+$/.test(groupArg)) {
    // Both numeric: nothing to look up (BuildKit's fast path); the gid is the only group.
    const gid = toId(groupArg);
    return { uid: toId(userArg), gid, additionalGids: [gid] };
  }
  const passwd = parsePasswd(await readRootFile(rootfs, '/etc/passwd'));
  const numericUser = /^\d+$/.test(userArg);
  const entry =
    userArg === '' || numericUser
      ? passwd.find((e) => e.uid === (userArg === '' ? 0 : Number(userArg)))
      : passwd.find((e) => e.name === userArg);
  if (entry === undefined && !numericUser && userArg !== '') {
    const suggestion = closestMatch(
      userArg,
      passwd.map((e) => e.name),
    );
    throw new UnknownUserError('user', userArg, '/etc/passwd', suggestion);
  }
  const uid = entry?.uid ?? (userArg === '' ? 0 : toId(userArg));
  const gid = entry?.gid ?? 0;
  if (groupArg === undefined && entry === undefined) return { uid, gid, additionalGids: [gid] };
  const groups = parseGroup(await readRootFile(rootfs, '/etc/group'));
  if (groupArg !== undefined) {
    const group = findGroup(groups, groupArg);
    return { uid, gid: group, additionalGids: [group] };
  }
  const memberOf = groups.filter((g) => g.members.includes(entry!.name)).map((g) => g.gid);
  return { uid, gid, additionalGids: [...new Set([gid, ...memberOf])] };
}

function findGroup(groups: GroupEntry[], groupArg: string): number {
  const numeric = /^\d+$/.test(groupArg);
  const group = groups.find((g) => (numeric ? g.gid === Number(groupArg) : g.name === groupArg));
  if (group !== undefined) return group.gid;
  if (numeric) return toId(groupArg);
  throw new UnknownUserError(
    'group',
    groupArg,
    '/etc/group',
    closestMatch(
      groupArg,
      groups.map((g) => g.name),
    ),
  );
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

function toId(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xfffffffe) {
    throw new UnknownUserError('user', s, '/etc/passwd');
  }
  return n;
}

/**
 * Read a file of the rootfs; a missing file reads as empty (scratch images have none), and
 * so does anything that is not a regular file: opened without blocking and checked first,
 * so that an image's /etc/passwd that is a FIFO or a device cannot stall the build.
 */
async function readRootFile(rootfs: string, file: string): Promise<string> {
  const host = await resolveInRoot(rootfs, file);
  let fd: number;
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO') return '';
    throw err;
  }
  try {
    return fstatSync(fd).isFile() ? readFileSync(fd, 'utf8') : '';
  } finally {
    closeSync(fd);
  }
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of parseColonFile(text)) {
    const [name = '', , uid = '', gid = ''] = fields;
    if (!/^\d+$/.test(uid)) continue;
    entries.push({ name, uid: Number(uid), gid: /^\d+$/.test(gid) ? Number(gid) : 0 });
  }
  return entries;
}

function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of parseColonFile(text)) {
    const [name = '', , gid = '', members = ''] = fields;
    if (!/^\d+$/.test(gid)) continue;
    entries.push({ name, gid: Number(gid), members: members.split(',').filter((m) => m !== '') });
  }
  return entries;
}

/** The rootfs's /etc/passwd entries (none when it has no such file). */
export async function readPasswd(rootfs: string): Promise<PasswdEntry[]> {
  return parsePasswd(await readRootFile(rootfs, '/etc/passwd'));
}

/** The rootfs's /etc/group entries (none when it has no such file). */
export async function readGroups(rootfs: string): Promise<GroupEntry[]> {
  return parseGroup(await readRootFile(rootfs, '/etc/group'));
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
