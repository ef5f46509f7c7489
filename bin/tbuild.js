#!/usr/bin/env node
// Entry point: the compiled CLI lives in lib/ (npm run build). The compile cache keeps
// V8's compiled code between runs, which shortens start-up (a no-op rebuild is ~0.2 s).
import module from 'node:module';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `ERROR: tbuild needs Node.js 24 or newer (node:sqlite, zstd); ${process.execPath} is ${process.version}.\n` +
      '  hint: run scripts/setup.sh, or put Node 24 first on PATH (it installs to /usr/local/bin).\n',
  );
  process.exit(1);
}
module.enableCompileCache?.();
const { main } = await import('../lib/cli/main.js');

process.exitCode = await main(process.argv.slice(2));
