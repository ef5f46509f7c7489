/**
 * Host checks: what tbuild needs from the machine (runc, mount, the attr tools, overlayfs,
 * privileges), each a small function that says what is wrong and which package fixes it.
 */

/** `fail`: builds cannot work; `warn`: some features will not; `ok`: fine. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** One line: what was found, or what is missing. */
  detail: string;
  /** Debian/Ubuntu packages that fix a failure or warning. */
  packages?: readonly string[];
  /** How to fix it when no package does (a kernel module, running as root). */
  hint?: string;
}

/** What a check may look at: the host as the build will see it. */
export interface HostContext {
  /** The environment whose PATH the build's tools are found on. */
  env: Readonly<Record<string, string | undefined>>;
  /** The effective user id (0 = root). */
  uid: number;
  /** The user's login name, when the passwd database knows it (subordinate ids). */
  userName?: string;
  /** Read a file of the host (/proc, /etc/os-release); undefined when it cannot be read. */
  readFile(file: string): Promise<string | undefined>;
  /** The absolute path of an executable on PATH, or undefined. */
  which(program: string): Promise<string | undefined>;
}

export interface Check {
  id: string;
  /** What it checks, for the report (`runc`, `overlayfs in the kernel`). */
  title: string;
  /**
   * `required`: a build fails without it, so builds check it before they start;
   * `optional`: only some features need it (git contexts, ADD of archives).
   */
  level: 'required' | 'optional';
  run(host: HostContext): Promise<CheckResult>;
}
