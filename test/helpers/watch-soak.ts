/**
 * A watch session in a process of its own, rebuilt N times, printing what it holds after
 * each sample: `node --expose-gc test/helpers/watch-soak.ts STORE CONTEXT N`. The context's
 * Dockerfile COPYs src/; every rebuild rewrites src/n.txt. One JSON line per sample
 * (build number, fds, store mounts, JS heap and external memory after GC, RSS); used by the watch
 * e2e test, so that the measure is of tbuild alone, not of the test runner.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createBuilder } from '../../src/builder/index.ts';
import { startWatch } from '../../src/watch/loop.ts';
import { resolveWatchTarget } from '../../src/watch/watcher.ts';

const [store, context, count] = process.argv.slice(2) as [string, string, string];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const builder = await createBuilder({ root: store });
let settle: ((ok: boolean) => void) | undefined;
const next = () => new Promise<boolean>((resolve) => (settle = resolve));
const target = await resolveWatchTarget({ context }, {});
let built = next();
const session = await startWatch(
  builder,
  { context },
  target,
  {},
  { debounceMs: 0, queue: false },
  {
    onEvent(event) {
      if (event.type === 'build-failed') process.stderr.write(`${String(event.error)}\n`);
      if (event.type === 'build-succeeded' || event.type === 'build-failed')
        settle?.(event.type === 'build-succeeded');
    },
    async openProgress() {
      return { sink: () => undefined, close: () => undefined };
    },
  },
);
const sample = (build: number) => {
  gc();
  const memory = process.memoryUsage();
  const line = {
    build,
    fds: readdirSync('/proc/self/fd').length,
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(store)).length,
    heap: memory.heapUsed,
    external: memory.external,
    rss: memory.rss,
  };
  process.stdout.write(JSON.stringify(line) + '\n');
};
if (!(await built)) process.exit(1);
for (let i = 1; i <= Number(count); i++) {
  built = next();
  writeFileSync(path.join(context, 'src/n.txt'), `${i} ${process.pid}\n`);
  if (!(await built)) process.exit(1);
  if (i % 10 === 0) sample(i);
}
await session.stop();
await builder.close();
