/**
 * Bundle the GitHub Action (src/action) into dist/index.js with esbuild, as action.yml
 * runs it (ADR 10). `--check` bundles into a temp directory instead and fails when the
 * committed dist/ differs, so CI catches a dist/ that is out of date with the sources.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(root, 'dist');
/** What action.yml runs, and the worker threads it starts by file name (beside it). */
const OUTPUTS = ['index.js', 'layer-tar-worker.js', 'hash-worker.js', 'unpack-worker.js'];

async function bundle(outdir: string): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: {
      index: path.join(root, 'src/action/index.ts'),
      'layer-tar-worker': path.join(root, 'src/exporter/layer-tar-worker.ts'),
      'hash-worker': path.join(root, 'src/engine/context/hash-worker.ts'),
      'unpack-worker': path.join(root, 'src/exporter/unpack-worker.ts'),
    },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    // Bundled CommonJS packages (undici) call require() for Node's modules.
    banner: {
      js: "import { createRequire as __tbuildCreateRequire } from 'node:module';\nconst require = __tbuildCreateRequire(import.meta.url);",
    },
    // Readable and stable: reviews read its diff, and --check compares it byte for byte.
    minify: false,
    legalComments: 'inline',
    logLevel: 'warning',
  });
}

if (process.argv.includes('--check')) {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-dist-'));
  try {
    await bundle(dir);
    for (const name of OUTPUTS) {
      const [want, have] = await Promise.all([
        readFile(path.join(dir, name)),
        readFile(path.join(DIST, name)).catch(() => Buffer.alloc(0)),
      ]);
      if (!want.equals(have)) {
        console.error(
          `dist/${name} is out of date with src/: run \`npm run build:action\` and commit dist/.`,
        );
        process.exit(1);
      }
    }
    console.log('dist/ is up to date.');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
} else {
  await bundle(DIST);
}
