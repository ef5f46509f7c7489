/**
 * .dockerignore parsing and matching for the parser's public API. The implementation
 * lives in src/shared/dockerignore.ts because the engine's context walk needs the same
 * matcher and may not import from the parser.
 */
export {
  createIgnoreMatcher,
  InvalidIgnorePatternError,
  parseDockerignore,
} from '../shared/dockerignore.ts';
export type { IgnoreMatcher, IgnoreState } from '../shared/dockerignore.ts';
