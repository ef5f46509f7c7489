/**
 * `# syntax=IMAGE` asks BuildKit to run that image as the Dockerfile frontend. tbuild runs
 * no frontend images: it always builds with its own frontend, which follows the stable
 * Dockerfile syntax 1 (up to 1.20). When the directive asks for something else, the user
 * hears so, with what the requested frontend has that this one may not.
 */
import type { SourceLocation } from '../shared/errors.ts';
import type { FrontendWarning } from './types.ts';

/** The newest Dockerfile syntax version whose features the built-in frontend implements. */
const BUILTIN_MINOR = 20;

/** What docker/dockerfile's labs channel adds over the stable one, that tbuild lacks. */
const LABS_ONLY = 'RUN --device';

/** A warning for `# syntax=<value>`, or undefined when the built-in frontend covers it. */
export function checkSyntaxDirective(
  value: string,
  location: SourceLocation,
): FrontendWarning | undefined {
  const lack = describeLack(value.trim());
  if (lack === undefined) return undefined;
  return {
    message: `# syntax=${value.trim()} is not run: tbuild builds with its built-in Dockerfile frontend (syntax 1.${BUILTIN_MINOR}), which ${lack}`,
    location,
  };
}

/** What the built-in frontend may lack compared with the one `ref` names. */
function describeLack(ref: string): string | undefined {
  const match =
    /^(?:docker\.io\/)?docker\/(dockerfile|dockerfile-upstream)(?::([^@]+))?(?:@.+)?$/.exec(ref);
  if (!match) return `does not know instructions, flags or syntax specific to ${ref}`;
  const [, repository, tag = 'latest'] = match;
  if (repository === 'dockerfile-upstream') return 'lacks features of unreleased upstream versions';
  if (/labs/.test(tag)) return `does not implement the labs-only features (${LABS_ONLY})`;
  if (tag === 'latest' || tag === '1') return undefined;
  const version = /^(\d+)(?:\.(\d+))?(?:\.\d+)?(?:-.+)?$/.exec(tag);
  if (!version) return `may lack features of version ${tag}`;
  const major = Number(version[1]);
  const minor = version[2] === undefined ? undefined : Number(version[2]);
  if (major === 1 && (minor === undefined || minor <= BUILTIN_MINOR)) return undefined;
  return `may lack features added after 1.${BUILTIN_MINOR}`;
}

/** The line of the `# syntax=` directive (directives are the first lines of the file). */
export function syntaxDirectiveLine(text: string): number | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (/^#\s*syntax\s*=/i.test(line)) return i + 1;
    if (!line.startsWith('#')) return undefined;
  }
  return undefined;
}
