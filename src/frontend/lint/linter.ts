/**
 * The linter a build carries: it runs a rule unless the check configuration skips it (or
 * it is experimental and not asked for), hands each warning to the build's list, and
 * remembers which rules fired so that `error=true` can fail the build afterwards.
 */
import type { SourceLocation } from '../../shared/errors.ts';
import { LintViolationError } from '../errors.ts';
import type { FrontendWarning } from '../types.ts';
import type { LintConfig } from './config.ts';
import { RULES } from './rules.ts';
import type { RuleName } from './rules.ts';

export interface Linter {
  /** Report `rule` at `location` with its message, unless the configuration turns it off. */
  run(rule: RuleName, location: SourceLocation | undefined, message: string): void;
  /** The error `error=true` asks for when any rule fired; undefined otherwise. */
  violation(): LintViolationError | undefined;
}

/** A linter that adds what it reports to `warnings`. */
export function createLinter(config: LintConfig, warnings: FrontendWarning[]): Linter {
  const fired: string[] = [];
  return {
    run(name, location, message) {
      const rule = RULES[name];
      const enabled =
        'experimental' in rule && rule.experimental
          ? config.experimentalAll || config.experimental.has(name)
          : !config.skipAll && !config.skip.has(name);
      if (!enabled) return;
      if (!fired.includes(name)) fired.push(name);
      warnings.push({
        rule: name,
        message,
        description: rule.description,
        ...('url' in rule ? { url: rule.url } : {}),
        ...(location ? { location } : {}),
      });
    },
    violation() {
      if (!config.errorOnWarnings || fired.length === 0) return undefined;
      return new LintViolationError(`lint violation found for rules: ${fired.join(', ')}`, {
        hint: 'Fix the warnings above, or skip rules with `# check=skip=<Rule>` (error=true turns warnings into errors).',
      });
    },
  };
}
