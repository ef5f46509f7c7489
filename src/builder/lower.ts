/**
 * Stage 1 of a build: the Dockerfile lowered to an LLB Definition and an image config, once
 * per target platform.
 */
import {
  checkDockerfile,
  lowerDockerfile as lowerToLLB,
  type BaseImageResolver,
  type BuildOptions as FrontendOptions,
  type CheckResult,
  type FrontendWarning,
  type LowerResult,
} from '../frontend/index.ts';
import type { ImageSourceProvider } from '../engine/types.ts';
import type { Platform } from '../shared/platform.ts';
import type { PreparedBuild } from './prepare.ts';

/**
 * Lower the Dockerfile. Build-check warnings go to `warnings` as they are found, so the
 * caller has them even when lowering fails (`# check=error=true` fails it on purpose).
 */
export async function lowerDockerfile(
  prepared: PreparedBuild,
  images: ImageSourceProvider,
  warnings: FrontendWarning[] = [],
  platform: Platform = prepared.options.platform,
): Promise<LowerResult> {
  const { options } = prepared;
  return lowerToLLB(
    options.dockerfileText,
    {
      ...frontendOptions(prepared),
      platform,
      ...(options.platforms.length > 1 ? { multiPlatform: true } : {}),
    },
    resolverFor(images, options.pull),
    warnings,
  );
}

/** The build checks alone (`--check`): nothing is built; errors come back in the result. */
export function checkPrepared(
  prepared: PreparedBuild,
  images: ImageSourceProvider,
): Promise<CheckResult> {
  const { options } = prepared;
  // Checks run nothing, so they need no entitlements.
  const { entitlements: _granted, ...checkOptions } = frontendOptions(prepared);
  return checkDockerfile(options.dockerfileText, checkOptions, resolverFor(images, options.pull));
}

function frontendOptions({ options, dockerignore }: PreparedBuild): FrontendOptions {
  return {
    buildArgs: { ...options.buildArgs },
    ...(options.target !== undefined ? { target: options.target } : {}),
    platform: options.platform,
    buildPlatform: options.buildPlatform,
    dockerignore,
    noCache: options.noCache,
    noCacheFilter: [...options.noCacheFilter],
    pull: options.pull,
    labels: { ...options.labels },
    namedContexts: { ...options.namedContexts },
    entitlements: [...options.allow],
    ...(options.network !== 'default' ? { forceNetwork: options.network } : {}),
    extraHosts: [...options.extraHosts],
    ulimits: [...options.ulimits],
    ...(options.shmSize !== undefined ? { shmSize: options.shmSize } : {}),
    file: options.dockerfileName,
    ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
  };
}

function resolverFor(images: ImageSourceProvider, pull: boolean): BaseImageResolver {
  return {
    async resolve(ref, platform) {
      const image = await images.resolve(ref, platform, pull);
      return { ref: image.ref, config: image.config };
    },
  };
}
