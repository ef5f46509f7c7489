/**
 * `--build-context NAME=…` (buildx): a name that FROM, COPY --from= and RUN --mount=from=
 * resolve before stages and images. A local directory becomes a `local` source; as a
 * stage base it is first copied into a layer, since a stage's filesystem must be a
 * snapshot that RUN can write through.
 */
import { local, scratch } from '../llb/index.ts';
import type { State, VertexMetadata } from '../llb/index.ts';
import type { Platform } from '../shared/platform.ts';
import type { BuildOptions, NamedContext } from './types.ts';

export function findNamedContext(opts: BuildOptions, name: string): NamedContext | undefined {
  const contexts = opts.namedContexts;
  if (!contexts) return undefined;
  return Object.hasOwn(contexts, name) ? contexts[name] : undefined;
}

/** The files of a named local context, for COPY --from= and RUN --mount=from=. */
export function namedLocalState(name: string, source: string): State {
  return local(source, { metadata: { description: `[context ${name}] load from client` } });
}

/** A named local context as the filesystem of a stage (FROM name). */
export function namedLocalBase(
  name: string,
  source: string,
  platform: Platform,
  metadata: VertexMetadata,
): State {
  return scratch().file(
    [
      {
        action: 'copy',
        from: namedLocalState(name, source),
        src: '/',
        dest: '/',
        followSymlinks: true,
        dirContentsOnly: true,
        attemptUnpack: false,
        createDestPath: true,
        allowWildcard: false,
        allowEmptyWildcard: false,
      },
    ],
    { platform, metadata },
  );
}
