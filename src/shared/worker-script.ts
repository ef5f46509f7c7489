/**
 * Worker threads are started by file name. A worker module sits beside the module that
 * starts it: `.ts` when run from the sources (tests), `.js` when compiled to lib/, and in
 * both bundles (lib/bundle/ and the Action's dist/) as an entry of its own next to the
 * chunks (scripts/bundle-cli.ts, scripts/build-action.ts). Where it is missing (another
 * bundler), callers do the work in process.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The URL of worker `name` (no extension) beside the module at `importMetaUrl`, if there. */
export function workerScript(name: string, importMetaUrl: string): URL | undefined {
  const self = fileURLToPath(importMetaUrl);
  const script = new URL(`./${name}${self.slice(self.lastIndexOf('.'))}`, importMetaUrl);
  return existsSync(script) ? script : undefined;
}
