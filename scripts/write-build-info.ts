/**
 * Write lib/build-info.json after compiling, so that an installed package knows the commit
 * it was built from (`tbuild --version`). Run by `npm run build`, hence by `npm pack`'s
 * prepack. lib/ is not committed, so neither is this file.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitCommit } from '../src/cli/version.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const commit = (await gitCommit(root)) ?? 'unknown';
await writeFile(path.join(root, 'lib/build-info.json'), JSON.stringify({ commit }) + '\n');
