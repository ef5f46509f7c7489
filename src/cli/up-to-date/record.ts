/**
 * The build's side of the up-to-date check (ADR 23): fingerprint the local inputs before
 * the build reads them and again after it, and keep a memo when the build was repeatable
 * and nothing changed under it.
 */
import path from 'node:path';
import type { BuildOptions, BuildResult } from '../../builder/types.ts';
import type { ResolvedBuildOptions } from '../../builder/options.ts';
import { isRemoteContext } from '../../builder/remote-context.ts';
import { normalizeImageName } from '../../registry/reference.ts';
import {
  inUserNamespace,
  readIdMap,
  ROOTLESS_ENV,
  ROOTLESS_NETWORK_ENV,
} from '../../shared/userns.ts';
import type { CliIO, Invocation } from '../io.ts';
import type { CliBuildSettings } from '../build/flags.ts';
import {
  inputsSignature,
  invocationKey,
  type InputPaths,
  type InputsSignature,
} from './fingerprint.ts';
import { MEMO_PROGRESS, MEMO_VERSION, writeMemo } from './memo.ts';

export interface MemoRecorder {
  /** Keep a memo of a build that ended well; a no-op unless the build qualifies. */
  finish(result: BuildResult, resolved: ResolvedBuildOptions, root: string): void;
}

/**
 * Start recording, or undefined when this build cannot be answered from a memo: it reads
 * stdin or a remote context, writes something besides the store and an ID file (an
 * output, a pushed image, a cache export, a metadata file), asks for no cache or a
 * fresh pull, or runs in a user namespace tbuild did not make.
 */
export function startMemo(
  invocation: Invocation,
  options: BuildOptions,
  settings: CliBuildSettings,
  io: Pick<CliIO, 'cwd' | 'env'>,
): MemoRecorder | undefined {
  const invoker = invokingProcess(io.env);
  if (invoker === undefined) return undefined;
  const progress = MEMO_PROGRESS.find((mode) => mode === settings.progress);
  if (progress === undefined) return undefined;
  const paths = localPaths(options, io.cwd);
  if (paths === undefined) return undefined;
  const key = invocationKey({ ...invocation, cwd: io.cwd, ...invoker });
  const takenAt = Date.now();
  const before = signatureOrNothing(paths);
  // A change too recent to be told from the next one by its times: no memo this time.
  if (before === undefined || before.settlesAt >= takenAt) return undefined;
  return {
    finish(result, resolved, root) {
      const { repeatable } = result;
      if (repeatable === undefined || !isStoreOnly(resolved)) return;
      if (resolved.contextDir !== paths.contextDir || resolved.dockerfilePath !== paths.dockerfile)
        return;
      try {
        // Changed while the build ran: which version the build read is not known.
        if (signatureOrNothing(paths)?.hash !== before.hash) return;
        writeMemo(key, {
          version: MEMO_VERSION,
          root,
          inputs: { ...paths, signature: before.hash },
          storeGeneration: repeatable.storeGeneration,
          imageId: result.imageId,
          names: resolved.tags.map(normalizeImageName),
          progress,
          quiet: settings.quiet,
          ...(resolved.iidfile !== undefined ? { iidfile: resolved.iidfile } : {}),
          warnings: result.warnings.map(({ message, rule }) => ({ message, rule })),
          builtAt: Date.now(),
        });
      } catch {
        // No memo (a full disk, a file gone): the next build runs in full, as without one.
      }
    },
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The environment and ids of the process the user started, which the check keys by: this
 * one as root; for a rootless build (ADR 17), the process outside the user namespace that
 * ran this one with the same arguments and its environment plus the two variables it
 * adds, and whose ids map to root here. Undefined in a namespace tbuild did not make
 * (`buildah unshare`, rootlesskit): that invoker is not known.
 */
function invokingProcess(
  env: Env,
): { env: Env; uid: number | undefined; gid: number | undefined } | undefined {
  const uid = process.getuid?.();
  if (uid === 0 && !inUserNamespace(env)) return { env, uid, gid: process.getgid?.() };
  if (env[ROOTLESS_ENV] !== '1') return undefined;
  const outside = (kind: 'uid' | 'gid') =>
    readIdMap(kind)?.find((range) => range.inside === 0)?.outside;
  const { [ROOTLESS_ENV]: _marker, [ROOTLESS_NETWORK_ENV]: _network, ...given } = env;
  return { env: given, uid: outside('uid'), gid: outside('gid') };
}

/** The signature, or undefined where it cannot be taken: the build says what is wrong. */
function signatureOrNothing(paths: InputPaths): InputsSignature | undefined {
  try {
    return inputsSignature(paths);
  } catch {
    return undefined; // a context that does not exist, a directory that cannot be read
  }
}

/** The context directory and Dockerfile, when both are local files. */
function localPaths(options: BuildOptions, cwd: string): InputPaths | undefined {
  const context = options.context ?? '.';
  if (isRemoteContext(context)) return undefined;
  if (options.dockerfile !== undefined || options.file === '-') return undefined;
  const contextDir = path.resolve(cwd, context);
  return {
    contextDir,
    dockerfile: options.file
      ? path.resolve(cwd, options.file)
      : path.join(contextDir, 'Dockerfile'),
  };
}

function isStoreOnly(resolved: ResolvedBuildOptions): boolean {
  return (
    resolved.outputs.length === 0 &&
    !resolved.load &&
    resolved.cacheFrom.length === 0 &&
    resolved.cacheTo.length === 0 &&
    !resolved.noCache &&
    resolved.noCacheFilter.length === 0 &&
    !resolved.pull &&
    resolved.metadataFile === undefined &&
    Object.keys(resolved.namedContexts).length === 0 &&
    resolved.platforms.length === 1
  );
}
