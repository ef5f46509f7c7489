/**
 * What a rootless build (ADR 17) needs from the host: unprivileged user namespaces (not
 * restricted by AppArmor), newuidmap/newgidmap, subordinate ids, and overlayfs in a user
 * namespace (Linux ≥ 5.11). As root none of it is needed.
 */
import { parseSubids } from '../rootless/subids.ts';
import type { Check, CheckResult, HostContext } from './types.ts';

/** Root in the initial namespace: rootless checks do not apply. */
function isRealRoot(host: HostContext): boolean {
  return host.uid === 0 && host.env['TBUILD_ROOTLESS'] !== '1';
}

/** Why unprivileged user namespaces cannot be created here, or undefined when they can. */
async function userNamespaceBlocker(host: HostContext): Promise<string | undefined> {
  const read = async (file: string) => (await host.readFile(file))?.trim();
  if ((await read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')) === '1')
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)';
  if ((await read('/proc/sys/kernel/unprivileged_userns_clone')) === '0')
    return 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)';
  if ((await read('/proc/sys/user/max_user_namespaces')) === '0')
    return 'user namespaces are disabled (user.max_user_namespaces=0)';
  return undefined;
}

const SYSCTL_HINT: Record<string, string> = {
  AppArmor:
    'Allow them: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile for tbuild with `userns,`), or run tbuild as root.',
  unprivileged_userns_clone: 'Allow them: sudo sysctl -w kernel.unprivileged_userns_clone=1',
  max_user_namespaces: 'Allow them: sudo sysctl -w user.max_user_namespaces=15000',
};

/** Root, or an ordinary user whose builds can run in a user namespace. */
export const privileges: Check = {
  id: 'privileges',
  title: 'root or rootless',
  level: 'required',
  async run(host) {
    if (isRealRoot(host)) return { id: 'privileges', status: 'ok', detail: 'running as root' };
    if (host.uid === 0)
      return { id: 'privileges', status: 'ok', detail: 'rootless: root in a user namespace' };
    const blocker = await userNamespaceBlocker(host);
    if (blocker === undefined) {
      return {
        id: 'privileges',
        status: 'ok',
        detail: `running as uid ${host.uid}: builds run rootless, in a user namespace`,
      };
    }
    const key = Object.keys(SYSCTL_HINT).find((k) => blocker.includes(k))!;
    return {
      id: 'privileges',
      status: 'fail',
      detail: `running as uid ${host.uid}, and ${blocker}`,
      hint: SYSCTL_HINT[key],
    };
  },
};

/** The user's ranges in /etc/subuid and /etc/subgid. */
export const subids: Check = {
  id: 'subids',
  title: 'subordinate ids',
  level: 'optional',
  async run(host): Promise<CheckResult> {
    if (isRealRoot(host)) return { id: 'subids', status: 'ok', detail: 'not needed as root' };
    const owner = { name: host.userName ?? String(host.uid), id: host.uid };
    const count = async (file: string) =>
      parseSubids((await host.readFile(file)) ?? '', owner).reduce((n, r) => n + r.count, 0);
    const [uids, gids] = await Promise.all([count('/etc/subuid'), count('/etc/subgid')]);
    if (uids > 0 && gids > 0)
      return { id: 'subids', status: 'ok', detail: `${uids} subordinate uids, ${gids} gids` };
    return {
      id: 'subids',
      status: 'warn',
      detail: `${owner.name} has no subordinate ${uids === 0 ? 'uids' : 'gids'}: only one id is mapped, so chown to other ids in RUN fails`,
      hint: `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${owner.name}`,
    };
  },
};

/** newuidmap/newgidmap: set-uid helpers that map subordinate ids. */
export const uidmap: Check = {
  id: 'uidmap',
  title: 'newuidmap, newgidmap',
  level: 'optional',
  async run(host): Promise<CheckResult> {
    if (isRealRoot(host)) return { id: 'uidmap', status: 'ok', detail: 'not needed as root' };
    const found = await Promise.all(['newuidmap', 'newgidmap'].map((p) => host.which(p)));
    if (found.every(Boolean)) return { id: 'uidmap', status: 'ok', detail: found.join(', ') };
    return {
      id: 'uidmap',
      status: 'warn',
      detail: 'newuidmap/newgidmap not found on PATH (subordinate ids cannot be mapped)',
      packages: ['uidmap'],
    };
  },
};

/**
 * Overlay mounts inside a user namespace need Linux 5.11 (userxattr). Without it builds
 * fall back to fuse-overlayfs or the copying snapshotter (slower), so this only warns; the
 * storage line (a real probe) says which one builds will use.
 */
export const overlayInUserNamespace: Check = {
  id: 'overlay-userns',
  title: 'overlayfs in a user namespace',
  level: 'optional',
  async run(host): Promise<CheckResult> {
    if (isRealRoot(host))
      return { id: 'overlay-userns', status: 'ok', detail: 'not needed as root' };
    const release = (await host.readFile('/proc/sys/kernel/osrelease'))?.trim() ?? '';
    const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
    if (major > 5 || (major === 5 && minor >= 11))
      return { id: 'overlay-userns', status: 'ok', detail: `Linux ${release} (5.11 or newer)` };
    return {
      id: 'overlay-userns',
      status: 'warn',
      detail: `Linux ${release || 'unknown'} cannot mount overlayfs in a user namespace (5.11 or newer can): rootless builds use fuse-overlayfs, else copy layers`,
      hint: 'Upgrade the kernel to 5.11 or newer, or run tbuild as root; meanwhile fuse-overlayfs is faster than copying: sudo apt-get install fuse-overlayfs, and /dev/fuse open to users (sudo chmod 0666 /dev/fuse).',
      packages: ['fuse-overlayfs'],
    };
  },
};
