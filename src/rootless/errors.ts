/** Errors of a rootless build's user namespace (ADR 17). */
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

const DOCTOR = 'Run `tbuild doctor` to see what this host lacks for rootless builds.';

/** The user namespace could not be created (unshare missing, or denied by the kernel). */
export class UserNamespaceError extends TbuildError {
  constructor(detail: string, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_ROOTLESS_USERNS',
      `cannot create a user namespace for a rootless build: ${detail}`,
      {
        hint: `Unprivileged user namespaces must be allowed (on Ubuntu 24.04: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0), or run tbuild as root. ${DOCTOR}`,
        ...options,
      },
    );
  }
}

/** newuidmap/newgidmap (or writing the single-id map) failed. */
export class IdMapError extends TbuildError {
  constructor(detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_ROOTLESS_IDMAP', `cannot map ids into the user namespace: ${detail}`, {
      hint: `Install newuidmap/newgidmap (Debian package uidmap) and check /etc/subuid and /etc/subgid. ${DOCTOR}`,
      ...options,
    });
  }
}
