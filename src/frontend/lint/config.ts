/**
 * Which checks run and whether they fail the build: the `# check=` directive
 * (`skip=Rule1,Rule2;error=true;experimental=Rule3`, `skip=all`), or the
 * BUILDKIT_DOCKERFILE_CHECK build-arg, which replaces the directive as it does in BuildKit.
 */
import { InvalidCheckOptionsError } from '../errors.ts';

export interface LintConfig {
  readonly skipAll: boolean;
  readonly skip: ReadonlySet<string>;
  readonly experimentalAll: boolean;
  readonly experimental: ReadonlySet<string>;
  /** `error=true`: a build (or --check) with warnings fails. */
  readonly errorOnWarnings: boolean;
}

export const BUILD_ARG_CHECK = 'BUILDKIT_DOCKERFILE_CHECK';

/** Parse a check option string; throws InvalidCheckOptionsError as BuildKit refuses it. */
export function parseCheckOptions(text: string): LintConfig {
  const config = {
    skipAll: false,
    skip: new Set<string>(),
    experimentalAll: false,
    experimental: new Set<string>(),
    errorOnWarnings: false,
  };
  const trimmed = text.trim();
  if (trimmed === '') return config;
  // Like Go's SplitN(…, 3): a fourth `;` stays inside the third option.
  const parts = splitN(trimmed, ';', 3);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new InvalidCheckOptionsError(`invalid check option ${JSON.stringify(part)}`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'skip' || key === 'experimental') {
      const all = value === 'all';
      const names = all ? [] : value.split(',').map((name) => name.trim());
      if (key === 'skip') {
        config.skipAll = all;
        config.skip = new Set(names);
      } else {
        config.experimentalAll = all;
        config.experimental = new Set(names);
      }
    } else if (key === 'error') {
      config.errorOnWarnings = parseGoBool(value, part);
    } else {
      throw new InvalidCheckOptionsError(`invalid check option ${JSON.stringify(key)}`);
    }
  }
  return config;
}

/**
 * The configuration a build runs with: the build-arg when it is given (even empty), else
 * the directive. `where` names the source in errors, as BuildKit does.
 */
export function resolveLintConfig(
  directive: string | undefined,
  buildArgs: Readonly<Record<string, string>>,
): LintConfig {
  const fromArg = Object.hasOwn(buildArgs, BUILD_ARG_CHECK);
  const text = fromArg ? buildArgs[BUILD_ARG_CHECK]! : (directive ?? '');
  try {
    return parseCheckOptions(text);
  } catch (error) {
    if (!(error instanceof InvalidCheckOptionsError)) throw error;
    const where = fromArg ? `failed to parse ${BUILD_ARG_CHECK}` : 'failed to parse check options';
    throw new InvalidCheckOptionsError(`${where}: ${error.message}`, { cause: error });
  }
}

/** Go's strconv.ParseBool. */
function parseGoBool(value: string, part: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new InvalidCheckOptionsError(
    `failed to parse check option ${JSON.stringify(part)}: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`,
  );
}

function splitN(text: string, separator: string, n: number): string[] {
  const parts = text.split(separator);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(separator)];
}
