/**
 * What a build hands back: the steps as they went (from the progress events it emitted),
 * the metadata buildx writes to --metadata-file, and the files --iidfile and
 * --metadata-file ask for.
 */
import type { CommittedImage } from '../engine/commit-image.ts';
import type { CommittedIndex } from '../engine/commit-index.ts';
import type { ProgressEvent, ProgressSink } from '../shared/progress.ts';
import { replaceFile } from '../shared/replace-file.ts';
import type { ResolvedBuildOptions } from './options.ts';
import type { BuildMetadata, BuildWarning, StepResult } from './types.ts';

/** Records steps and warnings from the events that pass through, then forwards them. */
export interface StepRecorder {
  sink: ProgressSink;
  steps(): StepResult[];
  warnings(): BuildWarning[];
}

export function recordSteps(forward: ProgressSink): StepRecorder {
  const steps = new Map<string, StepResult>();
  const order: string[] = [];
  const warnings: BuildWarning[] = [];
  const step = (digest: string): StepResult | undefined => steps.get(digest);
  const add = (s: StepResult) => {
    if (!steps.has(s.digest)) order.push(s.digest);
    steps.set(s.digest, { ...steps.get(s.digest), ...s });
  };
  const sink = (event: ProgressEvent) => {
    switch (event.type) {
      case 'vertex.cached':
      case 'vertex.started':
        add({
          digest: event.digest,
          name: event.name,
          ...(event.location ? { location: event.location } : {}),
          status: event.type === 'vertex.cached' ? 'cached' : 'ran',
        });
        break;
      case 'vertex.cache-miss': {
        const s = step(event.digest);
        if (s) s.cacheMiss = event.reason;
        else
          add({ digest: event.digest, name: event.name, status: 'ran', cacheMiss: event.reason });
        break;
      }
      case 'vertex.completed': {
        const s = step(event.digest);
        if (s) s.durationMs = event.durationMs;
        break;
      }
      case 'warning':
        warnings.push({
          message: event.message,
          ...(event.rule ? { rule: event.rule } : {}),
          ...(event.location ? { location: event.location } : {}),
        });
        break;
    }
    forward(event);
  };
  return {
    sink,
    steps: () => order.map((d) => steps.get(d)!),
    warnings: () => [...warnings],
  };
}

export function buildMetadata(
  committed: CommittedImage,
  options: ResolvedBuildOptions,
): BuildMetadata {
  return {
    'containerimage.digest': committed.manifest.descriptor.digest,
    'containerimage.config.digest': committed.config.descriptor.digest,
    'containerimage.descriptor': committed.manifest.descriptor,
    ...(options.tags.length ? { 'image.name': options.tags.join(',') } : {}),
  };
}

/** buildx's metadata of a multi-platform build: the index is the image; it has no config. */
export function indexMetadata(
  committed: CommittedIndex,
  options: ResolvedBuildOptions,
): BuildMetadata {
  return {
    'containerimage.digest': committed.descriptor.digest,
    'containerimage.descriptor': committed.descriptor,
    ...(options.tags.length ? { 'image.name': options.tags.join(',') } : {}),
  };
}

/** `--iidfile` and `--metadata-file`, rewritten after every successful build. */
export async function writeResultFiles(
  options: ResolvedBuildOptions,
  metadata: BuildMetadata,
): Promise<void> {
  // A multi-platform image's ID is its index digest (buildx writes that too).
  const id = metadata['containerimage.config.digest'] ?? metadata['containerimage.digest'];
  if (options.iidfile) await replaceFile(options.iidfile, id);
  if (options.metadataFile)
    await replaceFile(options.metadataFile, JSON.stringify(metadata, null, 2) + '\n');
}
