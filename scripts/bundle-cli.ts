/**
 * Bundle the compiled CLI (lib/cli/main.js) into lib/bundle/ with esbuild, after tsc (ADR
 * 19). bin/tbuild.js runs the bundle: Node resolves and links ~200 modules of lib/ on every
 * start, and a no-op rebuild is mostly that. Code splitting keeps every lazy `import()` a
 * chunk of its own, so what a build does not need is still not loaded; packages stay
 * external (resolved from node_modules as before).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'lib/bundle');

// Chunk names carry content hashes: remove the last build's.
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // Worker threads are started by file name, beside the chunk that starts them
  // (src/shared/worker-script.ts).
  entryPoints: {
    main: path.join(root, 'lib/cli/main.js'),
    'layer-tar-worker': path.join(root, 'lib/exporter/layer-tar-worker.js'),
    'hash-worker': path.join(root, 'lib/engine/context/hash-worker.js'),
    'unpack-worker': path.join(root, 'lib/exporter/unpack-worker.js'),
  },
  outdir,
  bundle: true,
  splitting: true,
  packages: 'external',
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
});
