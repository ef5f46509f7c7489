/**
 * The seccomp filter of sandboxed RUN steps. Docker's default profile is an allowlist of
 * ~350 syscalls; tbuild uses the complementary shape, everything allowed but what that
 * profile keeps from an unprivileged container:
 * - new user namespaces (unshare/clone with CLONE_NEWUSER): the way most container
 *   escapes reach kernel code that needs privileges;
 * - the kernel keyring, BPF, userfaultfd and perf events, which need no capability but
 *   are large attack surfaces;
 * - module, clock, swap, reboot, mount and namespace-joining calls, which the dropped
 *   capabilities refuse anyway (blocking them here keeps it so under --cap-add mistakes);
 * - clone3, whose flags seccomp cannot inspect: ENOSYS makes libc fall back to clone.
 * RUN --security=insecure runs unconfined, as in BuildKit.
 */

/** CLONE_NEWUSER from <linux/sched.h>. */
const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;
const ENOSYS = 38;

const DENIED = [
  'acct',
  'add_key',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'create_module',
  'delete_module',
  'finit_module',
  'fsconfig',
  'fsmount',
  'fsopen',
  'fspick',
  'get_kernel_syms',
  'init_module',
  'ioperm',
  'iopl',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mount',
  'mount_setattr',
  'move_mount',
  'nfsservctl',
  'open_by_handle_at',
  'open_tree',
  'perf_event_open',
  'pivot_root',
  'query_module',
  'quotactl',
  'reboot',
  'request_key',
  'setns',
  'settimeofday',
  'stime',
  'swapoff',
  'swapon',
  'sysfs',
  '_sysctl',
  'umount',
  'umount2',
  'uselib',
  'userfaultfd',
  'ustat',
  'vm86',
  'vm86old',
];

/** The seccomp architectures of the host, native first (libseccomp names). */
function architectures(arch: string): string[] | undefined {
  if (arch === 'x64') return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
  if (arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return undefined;
}

/** The OCI `linux.seccomp` section for a sandboxed step. */
export function sandboxSeccomp(arch: string = process.arch): Record<string, unknown> {
  const newUser = [
    { index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' },
  ];
  const archs = architectures(arch);
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    ...(archs ? { architectures: archs } : {}),
    syscalls: [
      { names: DENIED, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      // s390x passes clone's flags second; tbuild's supported hosts pass them first.
      { names: ['unshare', 'clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: newUser },
    ],
  };
}
