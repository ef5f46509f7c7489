/**
 * What a build does before the engine loads: resolve the options and start listing the
 * context, so that find(1) walks it on another core while the frontend, store and solver
 * modules load (ADR 0008). Kept light: it imports no engine module but the listing.
 */
import { startListing, type Listing } from '../engine/context/listing.ts';
import { parseDockerignore } from '../parser/dockerignore.ts';
import { resolveBuildOptions, type ResolvedBuildOptions } from './options.ts';
import type { BuildOptions, BuildRun } from './types.ts';

export interface PreparedBuild {
  readonly kind: 'prepared';
  readonly options: ResolvedBuildOptions;
  /** .dockerignore as patterns (what the frontend puts in the context source). */
  readonly dockerignore: string[];
  /** The main context's listing, under way; none when `listing: false`. */
  readonly listing: Listing | undefined;
}

/**
 * Resolve `options` and start the context listing. Give the result to `builder.build`;
 * `listing: false` skips the listing (a dry run reads no files).
 */
export async function prepareBuild(
  options: BuildOptions,
  run: BuildRun = {},
  { listing = true }: { listing?: boolean } = {},
): Promise<PreparedBuild> {
  const resolved = await resolveBuildOptions(options, run);
  const dockerignore = parseDockerignore(resolved.dockerignoreText);
  return {
    kind: 'prepared',
    options: resolved,
    dockerignore,
    listing: listing ? startListing(resolved.contextDir, dockerignore) : undefined,
  };
}

/** Dispose of what preparing made: the listing, and fetched contexts' temp directories. */
export async function releasePrepared(prepared: PreparedBuild): Promise<void> {
  prepared.listing?.cancel();
  await prepared.options.dispose();
}
