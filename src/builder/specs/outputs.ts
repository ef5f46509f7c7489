/**
 * buildx `--output` syntax: `type=docker,dest=x.tar`, `type=oci,dest=dir,tar=false`,
 * `type=local,dest=dir`, `type=tar,dest=x.tar`, `type=image,name=…,push=true`, or a bare
 * path (`-o out` = local, `-o -` = tar on stdout). Names left out here are filled in from
 * the tags when the build's options are resolved.
 */
import { UsageError } from '../../shared/errors.ts';
import type { OutputSpec, OutputType } from '../types.ts';
import { parseAttributes } from './csv.ts';
import { checkOutputAttributes } from './image-attributes.ts';

export const OUTPUT_TYPES: readonly OutputType[] = [
  'docker',
  'oci',
  'local',
  'tar',
  'image',
  'registry',
];

/** One `--output` value. */
export function parseOutputSpec(spec: string): OutputSpec {
  if (!spec.includes('=')) {
    return spec === '-'
      ? { type: 'tar', dest: '-', names: [], push: false, attrs: {} }
      : { type: 'local', dest: spec, names: [], push: false, attrs: {} };
  }
  const attrs = parseAttributes(spec, '--output', 'type=docker,dest=image.tar');
  const type = (attrs.type ?? 'local') as OutputType;
  if (!OUTPUT_TYPES.includes(type)) {
    throw new UsageError(`unknown output type "${attrs.type}"`, {
      hint: `Use one of ${OUTPUT_TYPES.join(', ')}.`,
    });
  }
  const { dest, name, push, type: _type, ...rest } = attrs;
  if (['docker', 'oci', 'local', 'tar'].includes(type) && !dest) {
    throw new UsageError(`--output type=${type} needs dest=`, {
      hint: `For example --output type=${type},dest=${type === 'local' ? 'out/' : 'image.tar'}.`,
    });
  }
  if (push !== undefined && type !== 'image' && type !== 'registry') {
    throw new UsageError(`--output type=${type} does not take the attribute "push"`, {
      hint: 'Push with type=image,push=true or type=registry.',
    });
  }
  if (name !== undefined && (type === 'local' || type === 'tar')) {
    throw new UsageError(`--output type=${type} does not take the attribute "name"`, {
      hint: `type=${type} writes files, not an image; name the image with -t.`,
    });
  }
  const output: OutputSpec = {
    type,
    ...(dest ? { dest } : {}),
    names: name ? name.split(/[,;]/).filter(Boolean) : [],
    push: type === 'registry' || push === 'true',
    attrs: rest,
  };
  checkOutputAttributes(output);
  return output;
}
