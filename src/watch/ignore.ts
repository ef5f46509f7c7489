/**
 * What a watch ignores: what .dockerignore excludes from the context, version-control
 * directories, editors' temporary files, and the build's own outputs (an --iidfile or
 * `-o dest=` inside the context would otherwise trigger the next build forever).
 */
import path from 'node:path';
import { createIgnoreMatcher, type IgnoreMatcher } from '../shared/dockerignore.ts';

const VCS_DIRS = new Set(['.git', '.hg', '.svn', '.bzr', '_darcs', '.jj']);

/**
 * Editors write these next to the file being saved: vim (`.x.swp`, `.x.swx`, `4913`,
 * `x~`), emacs (`.#x` lock files, `#x#` autosaves), JetBrains (`x___jb_tmp___`,
 * `x___jb_old___`), and the `.x.tmp`-style files some tools rename into place.
 */
export function isEditorTempFile(name: string): boolean {
  return (
    /\.sw[a-px]$/.test(name) ||
    name === '4913' ||
    name.endsWith('~') ||
    name.startsWith('.#') ||
    (name.startsWith('#') && name.endsWith('#')) ||
    name.includes('___jb_')
  );
}

export interface WatchFilterInput {
  /** The context directory and named local contexts, each with its .dockerignore patterns. */
  roots: ReadonlyArray<{ dir: string; patterns: readonly string[] }>;
  /** Files watched whatever the patterns say (the Dockerfile, .dockerignore). */
  always: readonly string[];
  /** Files and directories the build writes (iidfile, metadata file, output dests). */
  outputs: readonly string[];
}

/**
 * A chokidar `ignored` function: true for a path no build depends on. `isDir` is known
 * when the watcher has a stat; without one, a path is treated as possibly a directory.
 */
export function createWatchFilter(
  input: WatchFilterInput,
): (abs: string, isDir: boolean | undefined) => boolean {
  const roots = input.roots.map((r) => ({
    dir: path.resolve(r.dir),
    matcher: createIgnoreMatcher(r.patterns),
  }));
  const always = new Set(input.always.map((p) => path.resolve(p)));
  const outputs = input.outputs.map((p) => path.resolve(p));
  return (abs, isDir) => {
    const file = path.resolve(abs);
    if (always.has(file)) return false;
    // An output, what is under it, and the temporary file it is written through.
    if (
      outputs.some(
        (o) => file === o || file.startsWith(o + path.sep) || file.startsWith(o + '.tbuild-'),
      )
    )
      return true;
    const name = path.basename(file);
    if (isDir !== true && isEditorTempFile(name)) return true;
    const root = roots.find((r) => file === r.dir || file.startsWith(r.dir + path.sep));
    if (root === undefined) return false;
    const rel = path.relative(root.dir, file).split(path.sep).join('/');
    if (rel === '') return false;
    if (rel.split('/').some((part) => VCS_DIRS.has(part))) return true;
    return excluded(root.matcher, rel, isDir);
  };
}

function excluded(matcher: IgnoreMatcher, rel: string, isDir: boolean | undefined): boolean {
  if (matcher.empty || !matcher.ignores(rel)) return false;
  // An excluded directory stays watched when an exception may re-include something in it.
  return isDir === false || !matcher.mayContainIncluded(rel);
}
