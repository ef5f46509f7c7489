/**
 * The checks `tbuild doctor` runs and builds run before they start. Each is one entry:
 * add a check by adding it to CHECKS (rootless ones are in rootless-checks.ts).
 */
import { overlayInUserNamespace, privileges, subids, uidmap } from './rootless-checks.ts';
import type { Check, CheckResult } from './types.ts';

/** A check that every program in `programs` is on PATH, fixed by `packages`. */
function programs(
  id: string,
  title: string,
  level: Check['level'],
  names: readonly string[],
  packages: readonly string[],
  purpose: string,
): Check {
  return {
    id,
    title,
    level,
    async run(host) {
      const found = await Promise.all(names.map((n) => host.which(n)));
      const missing = names.filter((_, i) => found[i] === undefined);
      if (missing.length === 0)
        return { id, status: 'ok', detail: found.filter(Boolean).join(', ') };
      return {
        id,
        status: level === 'required' ? 'fail' : 'warn',
        detail: `${missing.join(', ')} not found on PATH (${purpose})`,
        packages,
      };
    },
  };
}

const overlay: Check = {
  id: 'overlayfs',
  title: 'overlayfs in the kernel',
  level: 'required',
  async run(host): Promise<CheckResult> {
    const filesystems = (await host.readFile('/proc/filesystems')) ?? '';
    if (/\toverlay$/m.test(filesystems))
      return { id: 'overlayfs', status: 'ok', detail: 'overlay is in /proc/filesystems' };
    // Not loaded yet is fine: mount(8) loads the module on first use when it exists.
    const release = (await host.readFile('/proc/sys/kernel/osrelease'))?.trim();
    const modules =
      release === undefined
        ? undefined
        : await host.readFile(`/lib/modules/${release}/modules.dep`);
    if (modules !== undefined && /\/overlay\.ko/.test(modules))
      return { id: 'overlayfs', status: 'ok', detail: 'the overlay module is available' };
    return {
      id: 'overlayfs',
      status: 'fail',
      detail: 'the kernel has no overlay filesystem',
      hint: 'Load it (modprobe overlay) or use a kernel with CONFIG_OVERLAY_FS; in a container, run it privileged.',
    };
  },
};

export const CHECKS: readonly Check[] = [
  privileges,
  programs('runc', 'runc', 'required', ['runc'], ['runc'], 'RUN steps run in runc containers'),
  programs(
    'setpriv',
    'setpriv',
    'required',
    ['setpriv'],
    ['util-linux'],
    'RUN containers die with tbuild (a parent-death signal)',
  ),
  programs(
    'mount',
    'mount tools',
    'required',
    ['mount', 'umount'],
    ['mount'],
    'layers are overlay mounts',
  ),
  overlay,
  programs(
    'perl',
    'perl',
    'optional',
    ['perl'],
    ['perl-base'],
    "mounts, small layers' attributes and nanosecond times without a process each (ADR 22); mount(8), getfattr and touch do them without it",
  ),
  programs(
    'slirp4netns',
    'slirp4netns',
    'optional',
    ['slirp4netns', 'unshare'],
    ['slirp4netns', 'util-linux'],
    "RUN's default network (isolated, outbound only); without it only --network=none builds run RUN steps",
  ),
  programs(
    'attr',
    'extended attribute tools',
    'required',
    ['getfattr', 'setfattr'],
    ['attr'],
    'layers keep xattrs and overlay whiteouts',
  ),
  programs(
    'coreutils',
    'coreutils',
    'required',
    ['cp', 'mknod', 'touch'],
    ['coreutils'],
    'copying trees and device nodes',
  ),
  programs(
    'tar',
    'GNU tar',
    'optional',
    ['tar'],
    ['tar'],
    'ADD of local archives and tar contexts',
  ),
  programs(
    'compressors',
    'xz and bzip2',
    'optional',
    ['xz', 'bzip2'],
    ['xz-utils', 'bzip2'],
    'xz and bzip2 archives in ADD and contexts',
  ),
  programs(
    'find',
    'GNU find',
    'optional',
    ['find'],
    ['findutils'],
    'fast context listing; tbuild walks the context itself without it',
  ),
  programs(
    'git',
    'git',
    'optional',
    ['git'],
    ['git'],
    'git build contexts and ADD of git repositories',
  ),
  uidmap,
  subids,
  overlayInUserNamespace,
];
