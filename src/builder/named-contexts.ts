/**
 * Named contexts (`--build-context NAME=VALUE`), as buildx takes them: a local directory,
 * `docker-image://REF`, a git repository or an https archive (fetched into a temp
 * directory that the build's dispose() removes).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../shared/errors.ts';
import { isGitUrl } from '../shared/git-url.ts';

export type NamedContextOption =
  { type: 'local'; source: string; dir: string } | { type: 'image'; ref: string };

export async function resolveNamedContexts(
  given: Readonly<Record<string, string>>,
  cwd: string,
  disposers: Array<() => Promise<void>>,
): Promise<Record<string, NamedContextOption>> {
  const contexts: Record<string, NamedContextOption> = {};
  for (const [name, value] of Object.entries(given)) {
    if (name === '' || value === '')
      throw new UsageError(`invalid --build-context "${name}=${value}"`, {
        hint: 'Use --build-context NAME=DIR or NAME=docker-image://REF.',
      });
    contexts[name] = await resolveOne(name, value, cwd, disposers);
  }
  return contexts;
}

async function resolveOne(
  name: string,
  value: string,
  cwd: string,
  disposers: Array<() => Promise<void>>,
): Promise<NamedContextOption> {
  if (value.startsWith('docker-image://'))
    return { type: 'image', ref: value.slice('docker-image://'.length) };
  if (isGitUrl(value) || /^https?:\/\//i.test(value)) {
    // A repository or an archive, fetched as a main context would be.
    const { fetchRemoteContext } = await import('./remote-context.ts');
    const got = await fetchRemoteContext(value);
    disposers.push(got.dispose);
    if (got.dockerfileText !== undefined)
      throw new UsageError(`--build-context ${name}: ${value} is not an archive`, {
        hint: 'A URL context must be a tar archive (plain, gzip, bzip2 or xz) or a git repository.',
      });
    return { type: 'local', source: `named:${name}`, dir: got.dir };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith('target:'))
    throw new UsageError(
      `--build-context ${name}: ${value.split(':')[0]} sources are not supported yet`,
      {
        hint: 'Use a local directory, a git repository, an https archive or docker-image://REF.',
      },
    );
  const dir = path.resolve(cwd, value);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new UsageError(`--build-context ${name}: ${value} is not a directory`, {
      hint: 'Give an existing directory, or docker-image://REF for an image.',
    });
  return { type: 'local', source: `named:${name}`, dir };
}
