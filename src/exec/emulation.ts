/**
 * Running RUN steps for a foreign architecture under QEMU user emulation, and finding out
 * whether this host can. Per platform, in order of preference:
 *
 * - `native`: the kernel runs the architecture itself (this machine's, or i386 on x86-64
 *   and arm on arm64 when the probe program runs as it is);
 * - `namespace`: QEMU's handler is registered in a binfmt_misc of the step's own user
 *   namespace (Linux ≥ 6.7 gives each user namespace its own); the host is not touched;
 * - `host`: the host's binfmt_misc handles it: a handler another tool registered
 *   (Docker's binfmt, Debian's qemu-user-binfmt), else one tbuild registers there, named
 *   `tbuild-qemu-NAME`, with binfmt_misc mounted first if it is not. Nothing another tool
 *   registered is changed or removed.
 *
 * Each mode is checked by running a tiny program for the architecture (binfmt.ts).
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TbuildError } from '../shared/errors.ts';
import { formatPlatform, hostPlatform, type Platform } from '../shared/platform.ts';
import {
  EMULATED_ARCHITECTURES,
  probeProgram,
  qemuInterpreter,
  qemuName,
  registrationLine,
} from './binfmt.ts';

export type EmulationMode = 'native' | 'namespace' | 'host';

/** Whether and how this host builds for one platform. */
export interface PlatformSupport {
  platform: Platform;
  /** How RUN steps run; undefined when they cannot. */
  mode?: EmulationMode;
  /** Why not, when `mode` is undefined. */
  problem?: string;
  /** For `namespace`: the handler line each step registers in its user namespace. */
  registration?: string;
}

/** What a RUN step for a foreign platform needs from the executor (see emulation-spec.ts). */
export interface RunEmulation {
  /** binfmt_misc `register` line, written in the step's own user namespace. */
  registration: string;
}

/** The platforms a build asks for cannot all run RUN steps here. */
export class EmulationUnavailableError extends TbuildError {
  constructor(missing: readonly PlatformSupport[]) {
    super(
      'TBUILD_EMULATION_UNAVAILABLE',
      `this machine cannot run steps for ${missing.map((m) => `${formatPlatform(m.platform)} (${m.problem})`).join('; ')}`,
      {
        hint:
          'Install QEMU user emulation: `apt-get install -y qemu-user-static` (Debian/Ubuntu), ' +
          'then build again; `tbuild doctor` lists the platforms this machine can build.',
      },
    );
  }
}

/** Architectures the kernel of a host may run natively besides its own. */
const COMPAT: Record<string, string[]> = { amd64: ['386'], arm64: ['arm'] };

const run = (file: string, args: string[]): Promise<boolean> =>
  new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error) => resolve(error === null));
  });

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** Register `$1`, then run `$2`, in a new user and mount namespace (nothing on the host). */
const IN_NAMESPACE = `mount -t binfmt_misc binfmt_misc ${BINFMT} && printf '%s' "$1" > ${BINFMT}/register && exec "$2"`;

/**
 * Find out how `platform` runs here, registering QEMU on the host as the last resort
 * (`registerOnHost`, default true; `tbuild doctor` passes false and changes nothing).
 */
export async function probePlatform(
  platform: Platform,
  options: { registerOnHost?: boolean; host?: Platform } = {},
): Promise<PlatformSupport> {
  const host = options.host ?? hostPlatform();
  if (platform.architecture === host.architecture) return { platform, mode: 'native' };
  const program = probeProgram(platform);
  if (!program || !EMULATED_ARCHITECTURES.includes(platform.architecture))
    return { platform, problem: `tbuild cannot emulate ${platform.architecture}` };
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-probe-'));
  try {
    const probe = path.join(dir, `probe-${platform.architecture}`);
    await writeFile(probe, program);
    await chmod(probe, 0o755);
    if (COMPAT[host.architecture]?.includes(platform.architecture) && (await run(probe, [])))
      return { platform, mode: 'native' };
    const interpreter = qemuInterpreter(platform)!;
    const registration = (await exists(interpreter)) ? await registrationLine(platform) : undefined;
    if (
      registration &&
      (await run('unshare', [
        '--user',
        '--map-root-user',
        '--mount',
        '--',
        'sh',
        '-c',
        IN_NAMESPACE,
        'probe',
        registration,
        probe,
      ]))
    )
      return { platform, mode: 'namespace', registration };
    if (await run(probe, [])) return { platform, mode: 'host' };
    if (!registration)
      return {
        platform,
        problem: (await exists(interpreter))
          ? `no binfmt_misc magic for ${platform.architecture} (/usr/lib/binfmt.d/qemu-${qemuName(platform)}.conf)`
          : `${interpreter} is not installed`,
      };
    if (options.registerOnHost === false)
      return { platform, problem: 'no binfmt_misc handler, in a user namespace or on the host' };
    await registerOnHost(platform, registration);
    if (await run(probe, [])) return { platform, mode: 'host' };
    return {
      platform,
      problem: `QEMU's handler is registered, but ${platform.architecture} programs still do not run`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * tbuild's handler on the host's binfmt_misc (mounted first when it is not): only when no
 * handler of that name is there already; never replacing or removing another.
 */
async function registerOnHost(platform: Platform, registration: string): Promise<void> {
  if (!(await exists(`${BINFMT}/register`)))
    await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]);
  const entries = await readdir(BINFMT).catch(() => [] as string[]);
  if (entries.includes(`tbuild-qemu-${qemuName(platform)}`)) return;
  await writeFile(`${BINFMT}/register`, registration).catch(() => undefined);
}

/**
 * Check every target platform before a build does any work: resolves with what each
 * foreign one's RUN steps need, rejects with EmulationUnavailableError naming those that
 * cannot run and what to install.
 */
export async function prepareEmulation(
  platforms: readonly Platform[],
  probe: (platform: Platform) => Promise<PlatformSupport> = (p) => probePlatform(p),
): Promise<Map<string, RunEmulation | undefined>> {
  const results = await Promise.all(platforms.map((p) => probe(p)));
  const missing = results.filter((r) => r.mode === undefined);
  if (missing.length) throw new EmulationUnavailableError(missing);
  return new Map(
    results.map((r) => [
      formatPlatform(r.platform),
      r.mode === 'namespace' ? { registration: r.registration! } : undefined,
    ]),
  );
}
