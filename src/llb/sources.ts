/**
 * Source and merge builders: the leaves of a build graph (images, the local context,
 * downloads, git repositories) and the op that layers states on top of each other.
 */
import type { Digest } from '../shared/digest.ts';
import type { Platform } from '../shared/platform.ts';
import { createNode, State } from './state.ts';
import type { VertexOptions } from './state.ts';
import type { GitSource, HttpSource, LocalSource, SourceOp } from './types.ts';

/** The empty filesystem. */
export function scratch(): State {
  return new State(null);
}

/** A base image, by fully qualified reference, for one platform. */
export function image(
  ref: string,
  platform: Platform,
  options: VertexOptions & { pull?: boolean } = {},
): State {
  const { pull, ...vertexOptions } = options;
  const op: SourceOp = {
    type: 'source',
    source: { type: 'image', ref, platform: { ...platform } },
  };
  if (pull && op.source.type === 'image') op.source.pull = true;
  return new State(createNode(op, [], vertexOptions));
}

/** A local directory the client sends: the build context (`context`) or a named context. */
export function local(
  name: string,
  options: VertexOptions & { exclude?: string[]; include?: string[] } = {},
): State {
  const { exclude, include, ...vertexOptions } = options;
  const source: LocalSource = { type: 'local', name };
  if (exclude && exclude.length > 0) source.exclude = [...exclude];
  if (include && include.length > 0) source.include = [...include];
  return new State(createNode({ type: 'source', source }, [], vertexOptions));
}

/** A file downloaded over HTTP(S) (ADD <url>). */
export function http(
  url: string,
  options: VertexOptions & { checksum?: Digest; filename?: string } = {},
): State {
  const { checksum, filename, ...vertexOptions } = options;
  const source: HttpSource = { type: 'http', url };
  if (checksum) source.checksum = checksum;
  if (filename) source.filename = filename;
  return new State(createNode({ type: 'source', source }, [], vertexOptions));
}

/** A git repository checkout (ADD <git url>). */
export function git(
  remote: string,
  options: VertexOptions & { ref?: string; subdir?: string; keepGitDir?: boolean } = {},
): State {
  const { ref, subdir, keepGitDir, ...vertexOptions } = options;
  const source: GitSource = { type: 'git', remote };
  if (ref) source.ref = ref;
  if (subdir) source.subdir = subdir;
  if (keepGitDir) source.keepGitDir = true;
  return new State(createNode({ type: 'source', source }, [], vertexOptions));
}

/**
 * Layer states in order (later ones win). Scratch inputs add nothing and are dropped; a
 * merge of one state is that state, so no pointless vertex enters the graph.
 */
export function merge(states: readonly State[], options: VertexOptions = {}): State {
  const inputs = states.filter((s) => !s.isScratch);
  if (inputs.length === 0) return new State(null);
  if (inputs.length === 1) return inputs[0]!;
  return new State(createNode({ type: 'merge' }, inputs, options));
}
