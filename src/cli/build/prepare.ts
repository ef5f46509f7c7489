/**
 * What a build does before the engine loads: resolve the options and start listing the
 * context, so that find(1) walks it on another core while the frontend, store and solver
 * modules load (ADR 0008). Kept light: it imports no engine module but the listing.
 */
import { startListing, type Listing } from '../../engine/context/listing.ts';
import { parseDockerignore } from '../../parser/dockerignore.ts';
import {
  resolveBuildOptions,
  type ResolvedBuildOptions,
  type UserBuildOptions,
} from './options.ts';

export interface PreparedBuild {
  options: ResolvedBuildOptions;
  /** .dockerignore as patterns (what the frontend puts in the context source). */
  dockerignore: string[];
  /** The main context's listing, under way; none for a dry run. */
  listing: Listing | undefined;
}

export async function prepareBuild(user: UserBuildOptions): Promise<PreparedBuild> {
  const options = await resolveBuildOptions(user);
  const dockerignore = parseDockerignore(options.dockerignoreText);
  const listing = options.dryRun ? undefined : startListing(options.contextDir, dockerignore);
  return { options, dockerignore, listing };
}
