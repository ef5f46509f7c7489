/**
 * The runc spec of a RUN step emulated in its own user namespace (emulation.ts): the
 * container gets a user namespace mapping every id to itself (so files and owners are as
 * without one), /sys bound from the host (a user namespace without its own network cannot
 * mount sysfs), and a createContainer hook. runc runs that hook inside the container's
 * namespaces, after its mounts and before pivot_root: it mounts a binfmt_misc instance of
 * the new user namespace on the container's /proc/sys/fs/binfmt_misc (the instance lives
 * as long as a mount of it does) and registers QEMU there. The F flag makes the kernel
 * open the host's interpreter then, so the step's rootfs needs no copy of it.
 */
import type { RunEmulation } from './emulation.ts';
import type { OciSpec } from './spec.ts';

const REGISTER = `set -e; d="$1/proc/sys/fs/binfmt_misc"; mount -t binfmt_misc binfmt_misc "$d"; printf '%s' "$2" > "$d/register"`;

/** `spec` for a step under emulation; unchanged when `emulation` is undefined. */
export function withEmulation(spec: OciSpec, emulation: RunEmulation | undefined): OciSpec {
  if (emulation === undefined) return spec;
  const all = [{ containerID: 0, hostID: 0, size: 4294967295 }];
  const namespaces = (spec.linux['namespaces'] as Array<{ type: string }>) ?? [];
  return {
    ...spec,
    mounts: spec.mounts.map((m) =>
      m.type === 'sysfs'
        ? {
            destination: m.destination,
            type: 'bind',
            source: '/sys',
            options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
          }
        : m,
    ),
    linux: {
      ...spec.linux,
      namespaces: [...namespaces, { type: 'user' }],
      uidMappings: all,
      gidMappings: all,
    },
    hooks: {
      createContainer: [
        {
          path: '/bin/sh',
          args: ['sh', '-c', REGISTER, 'tbuild-binfmt', spec.root.path, emulation.registration],
        },
      ],
    },
  };
}
