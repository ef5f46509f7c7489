/**
 * Bundle the compiled CLI (lib/cli/main.js) with esbuild, after tsc (ADR 19), twice:
 *
 * - lib/bundle/: code splitting, every lazy `import()` a chunk of its own, so that a
 *   command loads only what it runs (`tbuild --version`, `images`, `watch`, …);
 * - lib/bundle-build/: one file, for `tbuild build` (bin/tbuild.js picks it). A build runs
 *   most of the code, and Node's ESM loader costs ~0.1 ms a module: the split bundle's
 *   ~80 chunks cost a changed-source build ~8 ms, half of it between its steps.
 *
 * Both start from the same main(); they differ only in how the code is cut into files.
 * Packages stay external (resolved from node_modules as before).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function bundle(dir: string, splitting: boolean): Promise<void> {
  const outdir = path.join(root, dir);
  // Chunk names carry content hashes: remove the last build's.
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    // Worker threads are started by file name, beside the module that starts them
    // (src/shared/worker-script.ts).
    entryPoints: {
      main: path.join(root, 'lib/cli/main.js'),
      // The up-to-date check bin/tbuild.js runs before a build (ADR 23): one small file.
      'up-to-date': path.join(root, 'lib/cli/up-to-date/check.js'),
      'layer-tar-worker': path.join(root, 'lib/exporter/layer-tar-worker.js'),
      'hash-worker': path.join(root, 'lib/engine/context/hash-worker.js'),
      'unpack-worker': path.join(root, 'lib/exporter/unpack-worker.js'),
    },
    outdir,
    bundle: true,
    splitting,
    packages: 'external',
    platform: 'node',
    target: 'node24',
    format: 'esm',
    sourcemap: true,
    logLevel: 'warning',
  });
}

// Both directories sit beside lib/cli/: import.meta.url-relative paths resolve alike.
await Promise.all([bundle('lib/bundle', true), bundle('lib/bundle-build', false)]);
