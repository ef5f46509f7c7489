/** The Dockerfile frontend's public contract: options in, LLB graph and image config out. */
import type { Definition, ExtraHost, Ulimit } from '../llb/types.ts';
import type { SourceLocation } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';

/** What `--allow` may grant, as in buildx: RUN --network=host and RUN --security=insecure. */
export type Entitlement = 'network.host' | 'security.insecure';
export const ENTITLEMENTS: readonly Entitlement[] = ['network.host', 'security.insecure'];

export interface BuildOptions {
  /** `--build-arg` values. */
  buildArgs: Record<string, string>;
  /** `--target`: the stage to build (case-insensitive); default the last one. */
  target?: string;
  /** Target platform (TARGETPLATFORM). */
  platform: Platform;
  /** The platform tbuild runs on (BUILDPLATFORM). */
  buildPlatform: Platform;
  /** One of several target platforms: step titles then start with the stage's platform. */
  multiPlatform?: boolean;
  /** Name of the local source holding the build context (default `context`). */
  contextName?: 'context';
  /** .dockerignore patterns, in order. */
  dockerignore: string[];
  /** Ignore the cache for every vertex. */
  noCache?: boolean;
  /** Ignore the cache only for vertices of these stages (names or indexes). */
  noCacheFilter?: string[];
  /** Ask the registry for base images even when the store has them. */
  pull?: boolean;
  /** `--label`: set on the final image, overriding LABEL. */
  labels?: Record<string, string>;
  /** Dockerfile path, for error locations. */
  file?: string;
  /**
   * Lower every stage, not only those the target needs: `--check` without `--target`
   * checks the whole Dockerfile, as BuildKit's lint does.
   */
  allStages?: boolean;
  /** Reproducible timestamps (history, image created). Seconds since the epoch. */
  sourceDateEpoch?: number;
  /**
   * `--build-context NAME=…`: names that FROM, COPY --from and RUN --mount=from= resolve
   * before stages and images (a stage of the same name is overridden, as in BuildKit).
   */
  namedContexts?: Record<string, NamedContext>;
  /**
   * Entitlements the build grants (`--allow`). When set, a RUN that needs one it lacks
   * fails at its line; unset (`--check`, which runs nothing), none is checked.
   */
  entitlements?: Entitlement[];
  /**
   * `--network` of the build when not `default`: the network of every RUN without its own
   * --network, in its op and so in its cache key (as BuildKit's force-network-mode).
   */
  forceNetwork?: 'host' | 'none';
  /** `--add-host`, `--shm-size`, `--ulimit`: set on every RUN (and so in its cache key). */
  extraHosts?: ExtraHost[];
  shmSize?: number;
  ulimits?: Ulimit[];
}

/** A named build context: a local directory (by its local source name) or an image. */
export type NamedContext = { type: 'local'; source: string } | { type: 'image'; ref: string };

/** What the engine knows about a base image. */
export interface ResolvedImage {
  /** Normalised reference, e.g. `docker.io/library/alpine:3.20` (pinned `@sha256:` when known). */
  ref: string;
  config: ImageConfig;
}

export interface BaseImageResolver {
  /** The image's config, or undefined when it cannot be found (the frontend raises an error). */
  resolve(ref: string, platform: Platform): Promise<ResolvedImage | undefined>;
}

export interface FrontendWarning {
  message: string;
  /** BuildKit check name when there is one, e.g. `UndefinedVar`. */
  rule?: string;
  /** The rule's description and documentation page, for `--check` output. */
  description?: string;
  url?: string;
  location?: SourceLocation;
}

export interface StageInfo {
  index: number;
  name?: string;
  /** The FROM argument after expansion (image reference or stage name). */
  base: string;
  platform: Platform;
  /** Whether the target needs this stage (unused stages never enter the graph). */
  used: boolean;
}

export interface LowerResult {
  definition: Definition;
  /**
   * The target stage's image config: base config plus every instruction's change and a
   * history entry per instruction. `rootfs.diff_ids` holds the base image's layers only;
   * the engine appends the layers it builds.
   */
  image: ImageConfig;
  stages: StageInfo[];
  /** Index of the stage that was built. */
  target: number;
  warnings: FrontendWarning[];
}
