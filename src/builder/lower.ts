/** Stage 1 of a build: the Dockerfile lowered to an LLB Definition and an image config. */
import { dockerfileToLLB, type LowerResult } from '../frontend/index.ts';
import type { ImageSourceProvider } from '../engine/types.ts';
import type { PreparedBuild } from './prepare.ts';

export async function lowerDockerfile(
  { options, dockerignore }: PreparedBuild,
  images: ImageSourceProvider,
): Promise<LowerResult> {
  return dockerfileToLLB(
    options.dockerfileText,
    {
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
      extraHosts: [...options.extraHosts],
      ulimits: [...options.ulimits],
      ...(options.shmSize !== undefined ? { shmSize: options.shmSize } : {}),
      file: options.dockerfileName,
      ...(options.sourceDateEpoch !== undefined
        ? { sourceDateEpoch: options.sourceDateEpoch }
        : {}),
    },
    {
      async resolve(ref, platform) {
        const image = await images.resolve(ref, platform, options.pull);
        return { ref: image.ref, config: image.config };
      },
    },
  );
}
