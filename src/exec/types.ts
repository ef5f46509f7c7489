/**
 * The executor's contract: run one process in a sandboxed Linux container whose root
 * filesystem is an already-mounted directory. Only src/exec spawns containers.
 */
import type { RunEmulation } from './emulation.ts';

export interface ExecMountSpec {
  /** Absolute path inside the container. */
  dest: string;
  type: 'bind' | 'tmpfs';
  /** Host path for bind mounts. */
  source?: string;
  readonly: boolean;
  /** tmpfs size in bytes. */
  size?: number;
}

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  /** Data written to the process's stdin, then closed. */
  stdin?: string;
}

export interface RunSpec {
  /** Host directory holding the container's root filesystem (an overlay mount). */
  rootfs: string;
  process: ProcessSpec;
  mounts: ExecMountSpec[];
  /**
   * `isolated`: a network namespace of its own with outbound access through slirp4netns,
   * the host's loopback out of reach (the default, as Docker's bridge); `none`: loopback
   * only; `host`: the host's network (needs the network.host entitlement).
   */
  network: 'isolated' | 'host' | 'none';
  /** `insecure`: all capabilities, no masked paths (RUN --security=insecure). */
  security: 'sandbox' | 'insecure';
  hostname?: string;
  /** Content for /etc/hosts and /etc/resolv.conf (bind-mounted, never left in the layer). */
  hosts?: string;
  resolvConf?: string;
  /** Bytes of the /dev/shm tmpfs; 64 MiB when unset, as Docker. */
  shmSize?: number;
  /** Resource limits by ulimit name (`nofile`, `nproc`, …); -1 means unlimited. */
  ulimits?: ReadonlyArray<{ name: string; soft: number; hard: number }>;
  /**
   * How an aborted run stops: this signal first, then SIGKILL after `timeoutMs` (as
   * `docker stop`). Without it the process is killed at once, as a cancelled RUN is.
   */
  stop?: { signal: string; timeoutMs: number };
  /** A foreign architecture's step: QEMU registered in its own user namespace. */
  emulation?: RunEmulation;
}

export interface RunResult {
  exitCode: number;
  /**
   * Paths (inside the container, parents first) the executor had to create in the rootfs
   * as mount points: /proc, /etc/hosts, targets of RUN --mount, … The executor removes them
   * again after the run (when still empty) and restores their parents' mtimes, so the
   * layer holds no trace of them; a caller that diffs the upperdir can skip these too.
   */
  createdPaths?: string[];
}

export interface Executor {
  /** Run to completion. Rejects only on failure to run; a non-zero exit is a result. */
  run(
    spec: RunSpec,
    io: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void },
    signal: AbortSignal,
  ): Promise<RunResult>;
  /**
   * A RUN with this network is likely to come soon: set up what it needs beforehand (an
   * isolated network namespace), so that it does not wait for it.
   */
  warm?(network: RunSpec['network']): void;
  /** Release what runs shared (network namespaces); later runs set it up again. */
  close?(): Promise<void>;
}
