/**
 * What a build reads from disk, and a chokidar watcher over it: the context, named local
 * contexts, the Dockerfile (also outside the context) and the .dockerignore files. What
 * no build reads (ignored by .dockerignore, VCS data, editor temp files, the build's own
 * outputs) raises no event. A changed .dockerignore takes effect at once.
 */
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { prepareBuild, type BuildOptions, type BuildRun } from '../builder/index.ts';
import { ignoreFilesOf, parseDockerignore, readFirstIgnoreFile } from '../shared/dockerignore.ts';
import { UsageError } from '../shared/errors.ts';
import { createWatchFilter } from './ignore.ts';

export interface WatchTarget {
  /** Everything to watch: directories (recursively) and single files. */
  paths: string[];
  /** Directories whose .dockerignore applies, each with where its patterns come from. */
  roots: Array<{ dir: string; ignoreFiles: string[] }>;
  /** Always watched, even when a pattern excludes them. */
  always: string[];
  /** What the build writes (never a reason to rebuild). */
  outputs: string[];
}

/** Work out what a build of `options` reads, the way the builder resolves it. */
export async function resolveWatchTarget(
  options: BuildOptions,
  run: Pick<BuildRun, 'cwd' | 'env'>,
): Promise<WatchTarget> {
  const context = options.context ?? '.';
  if (context === '-' || /^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(context))
    throw new UsageError(`watch needs a local directory as the build context, not ${context}`, {
      hint: 'Check the repository out, then run tbuild watch on its directory.',
    });
  const prepared = await prepareBuild(options, run, { listing: false });
  try {
    const o = prepared.options;
    const [dockerfileIgnore, contextIgnore] = ignoreFilesOf(o.dockerfilePath, o.contextDir);
    const named = Object.values(o.namedContexts).flatMap((c) =>
      c.type === 'local' ? [c.dir] : [],
    );
    const outputs = o.outputs.flatMap((out) =>
      out.dest !== undefined && out.dest !== '-' ? [path.resolve(run.cwd ?? '.', out.dest)] : [],
    );
    const always = [o.dockerfilePath, dockerfileIgnore, contextIgnore];
    return {
      paths: [o.contextDir, ...named, ...always.filter((f) => !isInside(f, o.contextDir))],
      roots: [
        { dir: o.contextDir, ignoreFiles: [dockerfileIgnore, contextIgnore] },
        ...named.map((dir) => ({ dir, ignoreFiles: [path.join(dir, '.dockerignore')] })),
      ],
      always,
      outputs: [...outputs, ...[o.iidfile, o.metadataFile].filter((f) => f !== undefined)],
    };
  } finally {
    await prepared.options.dispose();
  }
}

function isInside(file: string, dir: string): boolean {
  return file.startsWith(dir + path.sep);
}

export interface Watcher {
  close(): Promise<void>;
}

/**
 * Watch `target`, calling `onChange` with the absolute path of every relevant change
 * (file or directory added, changed or removed), and `onError` when changes may have been
 * missed. Resolves once the initial scan is done.
 */
export async function openWatcher(
  target: WatchTarget,
  onChange: (file: string) => void,
  onError: (error: unknown) => void,
): Promise<Watcher> {
  const makeFilter = async () =>
    createWatchFilter({
      roots: await Promise.all(
        target.roots.map(async (r) => ({
          dir: r.dir,
          patterns: parseDockerignore(readFirstIgnoreFile(r.ignoreFiles)),
        })),
      ),
      always: target.always,
      outputs: target.outputs,
    });
  let filter = await makeFilter();
  const ignoreFiles = new Set(target.roots.flatMap((r) => r.ignoreFiles));
  // Loaded here: a build's one-file bundle would otherwise load chokidar for every build.
  const { watch } = await import('chokidar');
  const watcher: FSWatcher = watch(target.paths, {
    ignoreInitial: true,
    ignored: (file, stats) => filter(file, stats === undefined ? undefined : stats.isDirectory()),
  });
  watcher.on('all', (_event, file) => {
    if (ignoreFiles.has(path.resolve(file))) {
      // New patterns apply to the events after this one; the build re-reads the file itself.
      void makeFilter().then(
        (f) => (filter = f),
        () => undefined,
      );
    }
    onChange(path.resolve(file));
  });
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', resolve);
    watcher.once('error', reject);
  });
  // After the first scan, a watcher error (an inotify queue overflow, a limit reached)
  // means events may have been lost.
  watcher.on('error', onError);
  return { close: () => watcher.close() };
}
