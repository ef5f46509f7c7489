/**
 * buildx `--output` syntax: `type=docker,dest=x.tar`, `type=oci,dest=dir,tar=false`,
 * `type=local,dest=dir`, `type=tar,dest=x.tar`, `type=image,name=…,push=true`, or a bare
 * path (`-o out` = local, `-o -` = tar on stdout).
 */
import { UsageError } from '../../shared/errors.ts';

export type OutputType = 'docker' | 'oci' | 'local' | 'tar' | 'image' | 'registry';

export interface OutputSpec {
  type: OutputType;
  /** File or directory; `-` is standard output. */
  dest?: string;
  /** Image names for image/registry/docker outputs. */
  names: string[];
  push: boolean;
  /** Other attributes as given (compression, oci-mediatypes, tar, rewrite-timestamp…). */
  attrs: Readonly<Record<string, string>>;
}

const TYPES: OutputType[] = ['docker', 'oci', 'local', 'tar', 'image', 'registry'];

export function parseOutputs(
  specs: readonly string[],
  options: { push: boolean; tags: readonly string[] },
): OutputSpec[] {
  const outputs = specs.map((spec) => parseOutput(spec, options.tags));
  if (options.push) {
    const image = outputs.find((o) => o.type === 'image' || o.type === 'registry');
    if (image) image.push = true;
    else {
      if (options.tags.length === 0)
        throw new UsageError('--push needs an image name', { hint: 'Add -t registry/name:tag.' });
      outputs.push({ type: 'image', names: [...options.tags], push: true, attrs: {} });
    }
  }
  return outputs;
}

function parseOutput(spec: string, tags: readonly string[]): OutputSpec {
  if (!spec.includes('=')) {
    return spec === '-'
      ? { type: 'tar', dest: '-', names: [], push: false, attrs: {} }
      : { type: 'local', dest: spec, names: [], push: false, attrs: {} };
  }
  const attrs: Record<string, string> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw new UsageError(`invalid --output "${spec}"`, {
        hint: 'Use key=value pairs, e.g. type=docker,dest=image.tar.',
      });
    attrs[field.slice(0, eq).trim()] = field.slice(eq + 1).trim();
  }
  const type = (attrs.type ?? 'local') as OutputType;
  if (!TYPES.includes(type)) {
    throw new UsageError(`unknown output type "${attrs.type}"`, {
      hint: `Use one of ${TYPES.join(', ')}.`,
    });
  }
  const { dest, name, push, type: _type, ...rest } = attrs;
  const names = name
    ? name.split(/[,;]/).filter(Boolean)
    : type === 'image' || type === 'registry' || type === 'docker'
      ? [...tags]
      : [];
  if (['docker', 'oci', 'local', 'tar'].includes(type) && !dest) {
    throw new UsageError(`--output type=${type} needs dest=`, {
      hint: `For example --output type=${type},dest=${type === 'local' ? 'out/' : 'image.tar'}.`,
    });
  }
  if ((type === 'image' || type === 'registry') && names.length === 0) {
    throw new UsageError(`--output type=${type} needs name= (or -t)`, {
      hint: 'For example --output type=image,name=localhost:5000/app:1,push=true.',
    });
  }
  return {
    type,
    ...(dest ? { dest } : {}),
    names,
    push: type === 'registry' || push === 'true',
    attrs: rest,
  };
}
