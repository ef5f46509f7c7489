/**
 * `-o type=local` (the image's files into a directory) and `-o type=tar` (the same files
 * as one tar). The engine hands over either the ordered layer directories or a directory
 * that is already merged (e.g. an overlay mount); both are supported.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inUserNamespace } from '../shared/userns.ts';
import { writeToDest } from './archive.ts';
import { applyLayers } from './layer-apply.ts';
import { generateLayerTar } from './layer-writer.ts';
import { runTool } from './tools.ts';
import type { ExportDest } from './types.ts';

export interface FilesystemExportOptions {
  /** SOURCE_DATE_EPOCH in seconds; with `rewriteTimestamps`, file times are clamped to it. */
  sourceDateEpoch?: number;
  rewriteTimestamps?: boolean;
  /** Where to merge layers for a tar (default: the OS temp dir); e.g. the store's temp dir. */
  tempDir?: string;
}

/**
 * A rootless build (ADR 17) writes a `local` output as the user, as rootless BuildKit's
 * client does: the image's owners would be subordinate ids the user cannot remove.
 */
function keepsOwners(): boolean {
  return process.getuid?.() === 0 && !inUserNamespace();
}

/** `local` from layers: apply `layerDirs` (lowest first) onto the directory `dest`. */
export async function exportLayersToDirectory(
  layerDirs: readonly string[],
  dest: string,
): Promise<void> {
  await applyLayers(layerDirs, dest, { owners: keepsOwners() });
}

/** `local` from a merged tree: copy `mergedDir` into `dest`, keeping owners (as root), modes, links and xattrs. */
export async function exportMergedToDirectory(mergedDir: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const owners = keepsOwners() ? [] : ['--no-preserve=ownership'];
  await runTool('cp', ['-a', ...owners, '--', `${mergedDir}/.`, `${dest}/`]);
}

/** `tar` from a merged tree: its files as one tar, in sorted order. */
export async function exportMergedToTar(
  mergedDir: string,
  dest: ExportDest,
  options: FilesystemExportOptions = {},
): Promise<void> {
  await writeToDest(generateLayerTar(mergedDir, options), dest);
}

/** `tar` from layers: merge them in a temp directory, then write that as one tar. */
export async function exportLayersToTar(
  layerDirs: readonly string[],
  dest: ExportDest,
  options: FilesystemExportOptions = {},
): Promise<void> {
  const temp = await mkdtemp(join(options.tempDir ?? tmpdir(), 'tbuild-tar-'));
  try {
    const rootfs = join(temp, 'rootfs');
    await applyLayers(layerDirs, rootfs);
    await exportMergedToTar(rootfs, dest, options);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
