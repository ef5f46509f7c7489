/**
 * OCI runtime spec (config.json) generation, modelled on `runc spec` and Docker's
 * defaults for containers: the sandbox a RUN step gets.
 */
import { sandboxSeccomp } from './seccomp.ts';
import path from 'node:path';
import type { ExecMountSpec, RunSpec } from './types.ts';
import type { StubRequest } from './stubs.ts';

/** Docker's default capability set (moby's oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability, indexed by number, up to CAP_CHECKPOINT_RESTORE (40). */
const ALL_CAPABILITIES = [
  ...['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID'],
  ...['SETUID', 'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN'],
  ...['NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE'],
  ...['SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME'],
  ...['SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP'],
  ...['MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ'],
  ...['PERFMON', 'BPF', 'CHECKPOINT_RESTORE'],
].map((c) => `CAP_${c}`);

/** As `runc spec`, plus /sys/devices/virtual/powercap which Docker masks too. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Host files in the bundle that become /etc/hosts, /etc/resolv.conf and /etc/hostname. */
export interface BundleFiles {
  hosts: string;
  resolvConf: string;
  hostname: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** The subset of the OCI runtime spec tbuild writes. */
export interface OciSpec {
  ociVersion: string;
  process: Record<string, unknown>;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: Record<string, unknown>;
  hooks?: Record<string, Array<{ path: string; args?: string[] }>>;
}

/** Fresh kernel filesystems every container gets; nothing of them lives in the rootfs. */
function createSystemMounts(insecure: boolean, shmSize = 64 * 1024 * 1024): OciMount[] {
  const ro = insecure ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
    {
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', ...ro],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro],
    },
  ];
}

function createFileMounts(files: BundleFiles): OciMount[] {
  const options = ['nosuid', 'noexec', 'nodev', 'rbind', 'ro'];
  return [
    { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options },
    { destination: '/etc/hosts', type: 'bind', source: files.hosts, options },
    { destination: '/etc/hostname', type: 'bind', source: files.hostname, options },
  ];
}

function toOciMount(mount: ExecMountSpec): OciMount {
  const dest = path.posix.normalize(mount.dest);
  if (mount.type === 'tmpfs') {
    const size = mount.size === undefined ? [] : [`size=${mount.size}`];
    return {
      destination: dest,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=1777', ...size, ...(mount.readonly ? ['ro'] : [])],
    };
  }
  return {
    destination: dest,
    type: 'bind',
    source: mount.source ?? '',
    options: ['rbind', mount.readonly ? 'ro' : 'rw'],
  };
}

/** User mounts, parents before children so a nested target lands inside its parent. */
function sortUserMounts(mounts: readonly ExecMountSpec[]): OciMount[] {
  const depth = (m: OciMount) => m.destination.split('/').filter(Boolean).length;
  return mounts.map(toOciMount).sort((a, b) => depth(a) - depth(b));
}

/** Whether `dest` lies inside (or is) `parent`. */
function isUnder(dest: string, parent: string): boolean {
  return dest === parent || dest.startsWith(parent === '/' ? '/' : `${parent}/`);
}

/**
 * The mount targets that must exist in the rootfs itself: those not inside another
 * mount (/dev/shm lives on the /dev tmpfs, /sys/fs/cgroup on sysfs, …).
 * `bindKinds` says whether each bind source is a file or a directory.
 */
export function listStubRequests(
  mounts: readonly OciMount[],
  bindKinds: ReadonlyMap<string, 'dir' | 'file'>,
): StubRequest[] {
  const requests: StubRequest[] = [];
  const seen: string[] = [];
  for (const mount of mounts) {
    const dest = mount.destination;
    if (!seen.some((parent) => dest !== parent && isUnder(dest, parent))) {
      const kind = mount.type === 'bind' ? (bindKinds.get(mount.source) ?? 'dir') : 'dir';
      requests.push({ dest, kind });
    }
    if (mount.type !== 'bind' || bindKinds.get(mount.source) !== 'file') seen.push(dest);
  }
  return requests;
}

/** All mounts of a run, in the order runc must perform them. */
export function createMounts(spec: RunSpec, files: BundleFiles): OciMount[] {
  return [
    ...createSystemMounts(spec.security === 'insecure', spec.shmSize),
    ...createFileMounts(files),
    ...sortUserMounts(spec.mounts),
  ];
}

/**
 * The capabilities of `wanted` that are in `bounding` (a CapBnd bit mask): runc cannot
 * grant what tbuild itself may not hold, e.g. when tbuild runs in a restricted container.
 */
export function filterCapabilities(wanted: readonly string[], bounding: bigint): string[] {
  return wanted.filter((cap) => {
    const bit = ALL_CAPABILITIES.indexOf(cap);
    return bit >= 0 && ((bounding >> BigInt(bit)) & 1n) === 1n;
  });
}

/** Docker's daemon (under systemd) hands containers this many open files. */
export const DEFAULT_NOFILE = 1048576;

/** Limits of the tbuild process that bound what a container may get. */
export interface HostLimits {
  /** RLIMIT_NOFILE: runc sets it without CAP_SYS_RESOURCE, so ≤ tbuild's hard limit. */
  nofile: number;
  /** tbuild's capability bounding set (CapBnd). */
  capBounding: bigint;
}

const UNLIMITED: HostLimits = { nofile: DEFAULT_NOFILE, capBounding: (1n << 41n) - 1n };

/** JSON.rawJSON (Node 21+), not yet in TypeScript's es2024 lib. */
interface RawJson {
  rawJSON(text: string): unknown;
}

/** RLIMIT_* names of the ulimit names docker's --ulimit takes. */
const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** The nofile default, then the run's ulimits (a later one of a kind wins); -1 is unlimited. */
function rlimitsOf(
  spec: RunSpec,
  nofile: number,
): Array<{ type: string; hard: number; soft: number }> {
  const limits = new Map([['RLIMIT_NOFILE', { hard: nofile, soft: nofile }]]);
  // RLIM_INFINITY is 2^64-1, which a double cannot hold: written into the JSON as is.
  const value = (n: number): number =>
    n < 0 ? ((JSON as unknown as RawJson).rawJSON('18446744073709551615') as number) : n;
  for (const u of spec.ulimits ?? []) {
    const type = RLIMITS[u.name];
    if (type) limits.set(type, { hard: value(u.hard), soft: value(u.soft) });
  }
  return [...limits].map(([type, l]) => ({ type, ...l }));
}

/** Generate the config.json for one run. */
export function createOciSpec(
  spec: RunSpec,
  mounts: OciMount[],
  hostname: string,
  limits: HostLimits = UNLIMITED,
  networkNamespace?: string,
): OciSpec {
  const insecure = spec.security === 'insecure';
  const caps = filterCapabilities(
    insecure ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES,
    limits.capBounding,
  );
  const nofile = Math.min(DEFAULT_NOFILE, limits.nofile);
  const env = spec.process.env.some((e) => e.startsWith('PATH='))
    ? spec.process.env
    : [`PATH=${DEFAULT_PATH}`, ...spec.process.env];
  const namespaces: Array<{ type: string; path?: string }> = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  // An isolated run joins the namespace the executor set up (network.ts).
  if (spec.network === 'isolated') {
    if (networkNamespace === undefined) throw new Error('an isolated run needs its namespace');
    namespaces.push({ type: 'network', path: networkNamespace });
  } else if (spec.network === 'none') namespaces.push({ type: 'network' });
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: {
        uid: spec.process.uid,
        gid: spec.process.gid,
        additionalGids: spec.process.additionalGids,
        umask: 0o022,
      },
      args: spec.process.args,
      env,
      cwd: spec.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
      rlimits: rlimitsOf(spec, nofile),
      noNewPrivileges: !insecure,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname,
    mounts,
    linux: {
      namespaces,
      resources: { devices: [{ allow: insecure, access: 'rwm' }] },
      maskedPaths: insecure ? [] : MASKED_PATHS,
      readonlyPaths: insecure ? [] : READONLY_PATHS,
      ...(insecure ? {} : { seccomp: sandboxSeccomp() }),
    },
  };
}
