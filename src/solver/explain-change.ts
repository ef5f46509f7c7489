/**
 * A cache miss explained against the last build of the same step: which file, which
 * ARG/ENV, which base image digest or which parent step changed. The step is found by its
 * op (the same instruction anywhere in the file) and else by its place in the Dockerfile
 * (an edited instruction). BuildKit users have asked for this for years (buildkit#2567).
 */
import type { Digest, Op } from '../llb/types.ts';
import type { ContentChange, KeyFacts } from './types.ts';

/** Content checksum → the files that changed, when the worker still knows both. */
export type DescribeContent = (before: Digest, after: Digest) => Promise<ContentChange | undefined>;

/**
 * One sentence saying what differs between `previous` (the step's last build) and
 * `current`; undefined when the facts say nothing new (the caller then falls back to
 * explainMiss).
 */
export async function explainChange(
  previous: KeyFacts,
  current: KeyFacts,
  describeContent: DescribeContent | undefined,
): Promise<string | undefined> {
  if (previous.op !== current.op) return describeOpChange(previous.op, current.op);
  if (previous.inputs.length !== current.inputs.length) return 'its inputs changed';
  const reasons: string[] = [];
  const parents: string[] = [];
  for (const [i, now] of current.inputs.entries()) {
    const before = previous.inputs[i]!;
    if (now.content !== undefined && before.content !== undefined) {
      if (now.content === before.content) continue;
      const change = await describeContent?.(before.content, now.content).catch(() => undefined);
      reasons.push(change ? describeFiles(change) : `files it reads from "${now.name}" changed`);
    } else if (now.key !== before.key) parents.push(now.name);
  }
  if (parents.length > 0) {
    const names = parents.map((n) => `"${n}"`).join(', ');
    reasons.unshift(`${parents.length === 1 ? 'parent step' : 'parent steps'} ${names} changed`);
  }
  if (reasons.length > 0) return reasons.join('; ');
  if (previous.own !== current.own) return describeOwnChange(current.op, previous.own, current.own);
  // Same facts, and still no record: the result was removed (prune) since.
  return 'its earlier result is no longer in the cache (pruned)';
}

const MAX_FILES = 3;

/** `src/a.txt changed`, `2 files added (src/x, src/y)`, … */
export function describeFiles(change: ContentChange): string {
  const parts: string[] = [];
  const list = (paths: string[], verb: string) => {
    if (paths.length === 0) return;
    const shown = paths.slice(0, MAX_FILES).join(', ');
    const more = paths.length > MAX_FILES ? ` and ${paths.length - MAX_FILES} more` : '';
    parts.push(`${shown}${more} ${verb}`);
  };
  list(change.modified, 'changed');
  list(change.added, 'added');
  list(change.removed, 'removed');
  return parts.length > 0 ? parts.join(', ') : 'file metadata changed';
}

function describeOwnChange(opJson: string, before: string, after: string): string {
  const op = JSON.parse(opJson) as Op;
  const short = (d: string) => d.slice(0, 'sha256:'.length + 12);
  if (op.type === 'source' && op.source.type === 'image')
    return `base image ${op.source.ref} now resolves to ${short(after)} (was ${short(before)})`;
  if (op.type === 'source') return `its source changed (${short(before)} → ${short(after)})`;
  return 'what it resolved to changed';
}

/** What differs between two definitions of one step, in Dockerfile terms. */
function describeOpChange(beforeJson: string, afterJson: string): string {
  const before = JSON.parse(beforeJson) as Op;
  const after = JSON.parse(afterJson) as Op;
  if (before.type !== after.type) return 'the instruction changed';
  if (before.type === 'exec' && after.type === 'exec') {
    const changes: string[] = [];
    if (!same(before.args, after.args)) changes.push('the command changed');
    const env = envChanges(before.env, after.env);
    if (env.length > 0)
      changes.push(
        `ARG/ENV ${env.slice(0, MAX_FILES).join(', ')}${env.length > MAX_FILES ? ' …' : ''} changed`,
      );
    if (before.cwd !== after.cwd) changes.push('WORKDIR changed');
    if (before.user !== after.user) changes.push('USER changed');
    if (!same(before.mounts, after.mounts)) changes.push('its --mount options changed');
    if (before.network !== after.network || before.security !== after.security)
      changes.push('its --network/--security changed');
    if (
      !same(before.extraHosts, after.extraHosts) ||
      before.shmSize !== after.shmSize ||
      !same(before.ulimits, after.ulimits)
    )
      changes.push('--add-host, --shm-size or --ulimit changed');
    return changes.length > 0 ? changes.join('; ') : 'the instruction changed';
  }
  if (before.type === 'source' && after.type === 'source') {
    const [b, a] = [before.source, after.source];
    if (b.type === 'image' && a.type === 'image' && b.ref !== a.ref)
      return `base image changed from ${b.ref} to ${a.ref}`;
    if (b.type === 'local' && a.type === 'local') return '.dockerignore changed';
    return 'its source changed';
  }
  if (before.type === 'file' && after.type === 'file') {
    const options = (o: typeof before) =>
      o.actions.map((a) =>
        'chown' in a ? { chown: a.chown, mode: 'mode' in a ? a.mode : undefined } : {},
      );
    if (before.actions.length === after.actions.length && !same(options(before), options(after)))
      return '--chown or --chmod changed';
    return 'its sources or destination changed';
  }
  return 'the instruction changed';
}

/** Names of variables added, removed or given another value (values are not shown). */
function envChanges(before: readonly string[], after: readonly string[]): string[] {
  const map = (env: readonly string[]) =>
    new Map(env.map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e]));
  const [b, a] = [map(before), map(after)];
  const names = new Set([...b.keys(), ...a.keys()]);
  return [...names].filter((n) => b.get(n) !== a.get(n)).sort();
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
