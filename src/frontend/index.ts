/** The Dockerfile frontend: typed instructions and lowering to LLB plus an image config. */
export { dockerfileToLLB, lowerDockerfile } from './convert.ts';
export { checkDockerfile } from './check.ts';
export type { CheckResult } from './check.ts';
export { RULES } from './lint/rules.ts';
export type { LintRule, RuleName } from './lint/rules.ts';
export type {
  BaseImageResolver,
  BuildOptions,
  Entitlement,
  FrontendWarning,
  LowerResult,
  ResolvedImage,
  StageInfo,
} from './types.ts';
export { parseCommand } from './instructions/parse.ts';
export type * from './instructions/types.ts';
export { parseMount } from './instructions/mounts.ts';
export type { MountSpec } from './instructions/mounts.ts';
export { parseGoDuration } from './instructions/duration.ts';
export * from './errors.ts';
export { DEFAULT_PATH } from './image-config.ts';
export { ENTITLEMENTS } from './types.ts';
