/**
 * `tbuild build --dry-run`: print the LLB graph a Dockerfile lowers to (vertices with
 * digest, op, inputs and description) and the image config it would produce, without
 * running anything.
 */
import type { LowerResult } from '../../frontend/index.ts';
import type { Digest, FileAction, Op, Vertex } from '../../llb/index.ts';
import { formatPlatform } from '../../shared/platform.ts';

/** Print the result of lowering as JSON (stable, for tools) or as text (for people). */
export async function printDryRun(
  result: LowerResult,
  format: 'json' | 'text',
  write: (s: string) => void,
): Promise<void> {
  if (format === 'json') {
    write(JSON.stringify(toJson(result), null, 2) + '\n');
    return;
  }
  for (const line of toText(result)) write(line + '\n');
}

function toJson(result: LowerResult): object {
  const { definition } = result;
  return {
    vertices: (Object.entries(definition.vertices) as Array<[Digest, Vertex]>).map(
      ([digest, vertex]) => ({
        digest,
        ...vertex,
        ...definition.metadata[digest],
      }),
    ),
    root: definition.root,
    target: result.target,
    stages: result.stages,
    image: result.image,
    warnings: result.warnings,
  };
}

const short = (digest: string): string => digest.slice('sha256:'.length, 'sha256:'.length + 12);

function toText(result: LowerResult): string[] {
  const { definition } = result;
  const entries = Object.entries(definition.vertices) as Array<[Digest, Vertex]>;
  const root = definition.root
    ? `${short(definition.root.digest)}[${definition.root.output}]`
    : 'scratch';
  const lines = [`LLB graph: ${entries.length} vertices, root ${root}`];
  for (const [digest, vertex] of entries) {
    const meta = definition.metadata[digest];
    const platform = vertex.platform ? ` (${formatPlatform(vertex.platform)})` : '';
    lines.push(`  ${short(digest)}  ${meta?.description || '(no description)'}`);
    lines.push(`      ${describeOp(vertex.op)}${platform}`);
    if (vertex.inputs.length > 0) {
      lines.push(
        `      inputs: ${vertex.inputs.map((i) => `${short(i.digest)}[${i.output}]`).join(', ')}`,
      );
    }
  }
  const target = result.stages.find((s) => s.index === result.target);
  lines.push('', `Stages (target ${target?.name ?? result.target}):`);
  for (const stage of result.stages) {
    const mark = stage.used ? '*' : ' ';
    lines.push(
      `  ${mark} ${stage.index} ${stage.name ?? ''}`.trimEnd() +
        ` FROM ${stage.base} (${formatPlatform(stage.platform)})`,
    );
  }
  lines.push('', 'Image config:');
  for (const line of JSON.stringify(result.image, null, 2).split('\n')) lines.push(`  ${line}`);
  if (result.warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of result.warnings) {
      const where = w.location?.range ? ` (line ${w.location.range.start})` : '';
      lines.push(`  ${w.rule ? `${w.rule}: ` : ''}${w.message}${where}`);
    }
  }
  return lines;
}

/** One line per op: what it does, without its full definition. */
function describeOp(op: Op): string {
  switch (op.type) {
    case 'source': {
      const s = op.source;
      if (s.type === 'image') return `source image ${s.ref}${s.pull ? ' (pull)' : ''}`;
      if (s.type === 'local')
        return `source local ${s.name}${s.exclude ? ` (${s.exclude.length} exclude patterns)` : ''}`;
      if (s.type === 'http') return `source http ${s.url}`;
      return `source git ${s.remote}${s.ref ? `#${s.ref}` : ''}`;
    }
    case 'exec': {
      const mounts = op.mounts.filter((m) => m.dest !== '/').map((m) => `${m.type}:${m.dest}`);
      const extra = [
        `cwd=${op.cwd}`,
        op.user ? `user=${op.user}` : '',
        op.network !== 'default' ? `network=${op.network}` : '',
        mounts.length > 0 ? `mounts=${mounts.join(',')}` : '',
      ].filter(Boolean);
      return `exec ${JSON.stringify(op.args)} ${extra.join(' ')}`;
    }
    case 'file':
      return `file ${op.actions.map(describeAction).join('; ')}`;
    case 'merge':
      return 'merge';
  }
}

function describeAction(action: FileAction): string {
  switch (action.action) {
    case 'copy':
      return `copy ${action.src} -> ${action.dest}`;
    case 'mkdir':
      return `mkdir ${action.path}`;
    case 'mkfile':
      return `mkfile ${action.path}`;
    case 'rm':
      return `rm ${action.path}`;
    case 'symlink':
      return `symlink ${action.path} -> ${action.target}`;
  }
}
