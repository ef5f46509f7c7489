#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point: the compiled CLI lives in lib/ (npm run build). The compile cache keeps
// V8's compiled code between runs, which shortens start-up (a no-op rebuild is ~0.2 s).
// A 4 MB semi-space (young generation) keeps the peak memory of a 20,000-file build near
// 200 MB instead of ~330 MB: the layer and copy buffers die young, and a larger young
// generation only holds more of them (docs/dev/benchmarks.md). V8 reads the flag at start
// only, so it is on the #! line (bench/support/tools.ts passes it the same way).
// lib/bundle/ is lib/cli/main.js bundled by esbuild (scripts/bundle-cli.ts, ADR 19): one
// module graph of a few chunks loads faster than the ~200 modules of lib/. A build (`build`,
// or flags first: `tbuild -t app .`) runs lib/bundle-build/, the same main() in one file,
// as it would load most chunks anyway. The choice changes how fast the CLI starts, never
// what it does.
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `ERROR: tbuild needs Node.js 24 or newer (node:sqlite, zstd); ${process.execPath} is ${process.version}.\n` +
      '  hint: run scripts/setup.sh, or put Node 24 first on PATH (it installs to /usr/local/bin).\n',
  );
  process.exit(1);
}
module.enableCompileCache?.();
const args = process.argv.slice(2);
const first = args[0] ?? '';
const isBuild =
  (first === 'build' || (first.startsWith('-') && first !== '--version')) &&
  !args.includes('--help') &&
  !args.includes('-h');
// A build first asks the up-to-date check (ADR 23), which loads a few small modules: the
// same command, with nothing it reads changed since it last ran, is answered from its memo.
const codeFile = fileURLToPath(new URL('../lib/bundle-build/main.js', import.meta.url));
const upToDate = isBuild
  ? await (
      await import('../lib/bundle-build/up-to-date.js')
    ).answerIfUpToDate(args, codeFile, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      cwd: process.cwd(),
    })
  : undefined;
if (upToDate !== undefined) {
  process.exitCode = upToDate;
} else {
  const { main } = await import(isBuild ? '../lib/bundle-build/main.js' : '../lib/bundle/main.js');
  process.exitCode = await main(args, { codeFile });
}
