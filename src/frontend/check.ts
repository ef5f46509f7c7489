/**
 * `build --check`: run the build checks over a Dockerfile without building it. Without a
 * target every stage is checked, as BuildKit's lint subrequest does; a Dockerfile that
 * cannot be lowered still returns the warnings found before the error.
 */
import { isTbuildError } from '../shared/errors.ts';
import type { TbuildError } from '../shared/errors.ts';
import { lowerDockerfile } from './convert.ts';
import { RULES } from './lint/rules.ts';
import type { BaseImageResolver, BuildOptions, FrontendWarning } from './types.ts';

export interface CheckResult {
  /** Build-check warnings, in the order they were found. */
  warnings: FrontendWarning[];
  /** What stopped the check: a Dockerfile error, or `# check=error=true` with warnings. */
  error?: TbuildError;
}

/** Check `text`; only bugs throw, Dockerfile errors come back in the result. */
export async function checkDockerfile(
  text: string,
  opts: BuildOptions,
  images: BaseImageResolver,
): Promise<CheckResult> {
  const found: FrontendWarning[] = [];
  // Build-arg notices (UnusedBuildArg) are not build checks: --check leaves them out.
  const checks = () => found.filter((w) => w.rule !== undefined && Object.hasOwn(RULES, w.rule));
  const allStages = opts.target === undefined || opts.target === '';
  try {
    await lowerDockerfile(text, { ...opts, allStages }, images, found);
    return { warnings: checks() };
  } catch (error) {
    if (!isTbuildError(error)) throw error;
    return { warnings: checks(), error };
  }
}
