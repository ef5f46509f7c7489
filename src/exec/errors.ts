/**
 * Typed errors of the executor: overlay mounts, runc, users.
 */
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

/** `mount -t overlay` (or its bind-mount fallback) failed. */
export class MountError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_MOUNT_FAILED', message, options);
  }
}

/** The overlay options would not fit in one page (the kernel's limit for mount data). */
export class OverlayOptionsTooLongError extends TbuildError {
  readonly length: number;
  readonly layers: number;
  constructor(length: number, layers: number) {
    super(
      'TBUILD_OVERLAY_TOO_DEEP',
      `overlay mount options for ${layers} layers are ${length} bytes, more than the kernel's limit of 4095`,
      {
        hint: 'Flatten the snapshot chain (merge lower layers into one directory) before mounting it.',
      },
    );
    this.length = length;
    this.layers = layers;
  }
}

/** `umount` failed even after retries and a lazy unmount. */
export class UnmountError extends TbuildError {
  constructor(target: string, detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_UNMOUNT_FAILED', `could not unmount ${target}: ${detail}`, {
      hint: 'Find the process keeping it busy with `fuser -vm <path>` and stop it, then run the command again.',
      ...options,
    });
  }
}

/** runc could not start the container (bad config, missing executable, …). */
export class ContainerStartError extends TbuildError {
  readonly runcMessage: string;
  constructor(runcMessage: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_CONTAINER_START', runcMessage, {
      hint: hintForRuncMessage(runcMessage),
      ...options,
    });
    this.runcMessage = runcMessage;
  }
}

/** The runc binary is missing. */
export class RuncNotFoundError extends TbuildError {
  constructor(runcPath: string) {
    super('TBUILD_RUNC_NOT_FOUND', `runc not found at ${runcPath}`, {
      hint: 'Install runc (Debian/Ubuntu: `apt-get install runc`) and make sure it is on PATH.',
    });
  }
}

/** USER names a user or group that the image does not define. */
export class UnknownUserError extends TbuildError {
  constructor(kind: 'user' | 'group', name: string, file: string, suggestion?: string) {
    const didYouMean = suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`;
    super('TBUILD_UNKNOWN_USER', `no ${kind} named "${name}" in ${file} of the image`, {
      hint: `Use a numeric id (USER 1000:1000) or create the ${kind} in an earlier RUN step (e.g. adduser).${didYouMean}`,
    });
  }
}

function hintForRuncMessage(message: string): string {
  if (
    message.includes('executable file not found') ||
    message.includes('no such file or directory')
  ) {
    return 'Check that the command exists in the image and that PATH includes its directory.';
  }
  if (message.includes('permission denied')) {
    return 'Check the file mode of the command and that USER may execute it.';
  }
  return 'tbuild runs RUN steps with runc as root; check that it runs as root and that the kernel allows new namespaces.';
}

/** The isolated network of RUN (network.ts) could not be set up. */
export class NetworkSetupError extends TbuildError {
  constructor(detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_NETWORK_SETUP', `could not set up the isolated network for RUN: ${detail}`, {
      hint: 'Install slirp4netns (Debian/Ubuntu: `apt-get install slirp4netns`), or build with --network=none.',
      ...options,
    });
  }
}

/** setpriv (util-linux), which ties each RUN container's life to tbuild, is missing. */
export class SetprivNotFoundError extends TbuildError {
  constructor() {
    super('TBUILD_SETPRIV_NOT_FOUND', 'setpriv not found on PATH', {
      hint: 'Install util-linux (Debian/Ubuntu: `apt-get install util-linux`): RUN containers are tied to tbuild with setpriv --pdeathsig.',
    });
  }
}
