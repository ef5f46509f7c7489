/**
 * tbuild's build API, for every front door (the CLI, watch mode, the GitHub Action) and
 * for programs:
 *
 *   const builder = await createBuilder({ root: '/var/lib/tbuild' });
 *   const result = await builder.build({ context: '.', tags: ['app:1'] }, { onProgress });
 *   await builder.close();
 */
export { createBuilder, type Builder } from './builder.ts';
export { prepareBuild, type PreparedBuild } from './prepare.ts';
export { recordSteps, type StepRecorder } from './result.ts';
export type { ResolvedBuildOptions, NamedContextOption } from './options.ts';
export type * from './types.ts';
export * from './specs/index.ts';
export type { CheckResult, FrontendWarning, LowerResult } from '../frontend/index.ts';
/** The entitlements `allow` may grant. */
export { ENTITLEMENTS } from '../frontend/index.ts';
export type { ProgressEvent, ProgressSink } from '../shared/progress.ts';
export { TbuildError, UsageError, CancelledError, isTbuildError } from '../shared/errors.ts';
export type { ErrorSource, SourceLocation, LineRange } from '../shared/errors.ts';
