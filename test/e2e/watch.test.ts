/**
 * Watch mode end to end: real chokidar on a real context, real runc and a busybox base
 * image, driven through the library as `tbuild watch` drives it.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createBuilder, type Builder, type BuildOptions } from '../../src/builder/index.ts';
import { startWatch, type WatchSession } from '../../src/watch/loop.ts';
import type { WatchEvent, WatchOptions, WatchSummary } from '../../src/watch/types.ts';
import { resolveWatchTarget } from '../../src/watch/watcher.ts';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { REPO_ROOT } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();
let builder: Builder;
beforeAll(async () => {
  builder = await createBuilder({ root: dirs.store });
});
afterAll(() => builder.close());

/** A running watch whose events a test can wait for. */
interface Watching {
  events: WatchEvent[];
  session: WatchSession;
  /** Resolves with the next event after the current one that matches. */
  next<T extends WatchEvent['type']>(
    type: T,
    where?: (e: Extract<WatchEvent, { type: T }>) => boolean,
  ): Promise<Extract<WatchEvent, { type: T }>>;
  succeeded(): Promise<WatchSummary>;
  /** Progress events of every build, in order. */
  steps: Array<{ build: number; type: string; name: string }>;
  /** Drop the events seen so far (a long test must not measure its own record). */
  forget(): void;
}

const sessions: WatchSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.stop();
});

async function watch(
  options: BuildOptions,
  watchOptions: Partial<WatchOptions> = {},
): Promise<Watching> {
  const events: WatchEvent[] = [];
  const steps: Watching['steps'] = [];
  let seen = 0;
  const waiters: Array<() => void> = [];
  const target = await resolveWatchTarget(options, {});
  const session = await startWatch(
    builder,
    options,
    target,
    {},
    { debounceMs: 50, queue: false, ...watchOptions },
    {
      onEvent(event) {
        events.push(event);
        for (const w of waiters.splice(0)) w();
      },
      async openProgress(build) {
        return {
          sink: (e) => {
            if ('name' in e) steps.push({ build, type: e.type, name: e.name });
          },
          close() {},
        };
      },
    },
  );
  sessions.push(session);
  const next: Watching['next'] = (type, where) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${type} event; saw ${events.map((e) => e.type).join(', ')}`)),
        120_000,
      );
      const check = () => {
        for (; seen < events.length; seen++) {
          const e = events[seen]!;
          if (e.type === type && (where === undefined || where(e as never))) {
            seen++;
            clearTimeout(timer);
            resolve(e as never);
            return;
          }
        }
        waiters.push(check);
      };
      check();
    });
  return {
    events,
    session,
    steps,
    next,
    succeeded: async () => (await next('build-succeeded')).summary,
    forget() {
      events.splice(0, seen);
      seen = 0;
      steps.splice(0);
    },
  };
}

/** Steps that did work (not the context load, not FROM: sources run on every build). */
const ran = (summary: WatchSummary) =>
  summary.result.steps
    .filter(
      (s) => s.status === 'ran' && !s.name.startsWith('[internal]') && !/\bFROM\b/.test(s.name),
    )
    .map((s) => s.name);

describe('tbuild watch', () => {
  it('reruns exactly the steps that depend on a changed file and says which file', async () => {
    const context = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox',
        'COPY deps.txt /deps.txt',
        'RUN cat /deps.txt > /deps.out',
        'COPY src /src',
        'RUN cat /src/* > /all',
        '',
      ].join('\n'),
      'deps.txt': 'deps\n',
      'src/a.txt': 'a\n',
      'src/b.txt': 'b\n',
    });
    const w = await watch({ context });
    const first = await w.succeeded();
    expect(ran(first)).toHaveLength(4); // two COPY, two RUN

    appendFileSync(path.join(context, 'src/a.txt'), 'more\n');
    const second = await w.succeeded();
    expect(second.changed).toEqual([path.relative(process.cwd(), path.join(context, 'src/a.txt'))]);
    expect(ran(second)).toEqual(['[4/5] COPY src /src', '[5/5] RUN cat /src/* > /all']);
    const copy = second.result.steps.find((s) => s.name === '[4/5] COPY src /src');
    expect(copy?.cacheMiss).toBe('src/a.txt changed');
    expect(second.latencyMs).toBeGreaterThanOrEqual(second.durationMs);
  });

  it('ignores what .dockerignore excludes, VCS data and editor temp files', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nCOPY . /ctx\n',
      '.dockerignore': '*.log\n',
      'app.txt': 'app\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
    });
    const w = await watch({ context });
    await w.succeeded();
    writeFileSync(path.join(context, 'debug.log'), 'noise\n');
    writeFileSync(path.join(context, '.git/HEAD'), 'ref: refs/heads/other\n');
    writeFileSync(path.join(context, '.app.txt.swp'), 'vim\n');
    writeFileSync(path.join(context, 'app.txt~'), 'backup\n');
    writeFileSync(path.join(context, '4913'), '');
    // A real change after the noise: the next build must have been caused by it alone.
    writeFileSync(path.join(context, 'app.txt'), 'app 2\n');
    const summary = await w.succeeded();
    expect(summary.changed.map((p) => path.basename(p))).toEqual(['app.txt']);
    expect(w.events.filter((e) => e.type === 'build-started')).toHaveLength(2);
  });

  it('turns a burst of 50 changes into at most two builds', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`src/f${i}.txt`, `${i}\n`]),
    );
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nCOPY src /src\n',
      ...files,
    });
    const w = await watch({ context }, { debounceMs: 100 });
    await w.succeeded();
    for (let i = 0; i < 50; i++) appendFileSync(path.join(context, `src/f${i}.txt`), 'x\n');
    // Every change is built: the changed lists of the builds after the burst cover all 50.
    const covered = new Set<string>();
    while (covered.size < 50) {
      for (const p of (await w.succeeded()).changed) covered.add(path.basename(p));
    }
    const after = w.events.filter((e) => e.type === 'build-started' && e.build > 1);
    expect(after.length).toBeLessThanOrEqual(2);
  });

  it('starts the build of a lone change at once; a change right after cancels it for one build of both', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nCOPY src /src\nRUN sleep 2\n',
      'src/a.txt': 'a\n',
      'src/b.txt': 'b\n',
    });
    // A debounce far longer than the build: a lone change must not wait for it.
    const w = await watch({ context }, { debounceMs: 60_000 });
    await w.succeeded();
    appendFileSync(path.join(context, 'src/a.txt'), 'a2\n');
    const lone = await w.succeeded();
    expect(lone.build).toBe(2);
    expect(lone.latencyMs).toBeLessThan(60_000);

    await w.session.stop();
    const again = await watch({ context }, { debounceMs: 1_000 });
    await again.succeeded();
    appendFileSync(path.join(context, 'src/a.txt'), 'a3\n');
    await again.next('build-started', (e) => e.build === 2);
    appendFileSync(path.join(context, 'src/b.txt'), 'b2\n');
    await again.next('build-cancelled', (e) => e.build === 2);
    const both = await again.succeeded();
    expect(both.build).toBe(3);
    expect(both.changed.map((p) => path.basename(p)).sort()).toEqual(['a.txt', 'b.txt']);
    expect(again.events.filter((e) => e.type === 'build-started')).toHaveLength(3);
  });

  it('cancels a running build when a file changes, and the next build succeeds', async () => {
    const context = await makeContext({
      Dockerfile:
        'FROM localhost:5000/busybox\nCOPY src /src\nRUN if [ -f /src/slow ]; then sleep 60; fi\n',
      'src/slow': '',
      'src/app.txt': 'app\n',
    });
    const w = await watch({ context });
    await w.next('build-started');
    // Wait until the slow RUN is under way, then change a file.
    while (!w.steps.some((s) => s.type === 'vertex.started' && s.name.includes('sleep 60')))
      await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    rmSync(path.join(context, 'src/slow'));
    await w.next('build-cancelled');
    const summary = await w.succeeded();
    expect(summary.build).toBe(2);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(runcContainers()).toEqual([]);
  });

  it('reports a Dockerfile error with its line and builds again once it is fixed', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nRUN echo ok > /ok\n',
    });
    const w = await watch({ context });
    await w.succeeded();
    writeFileSync(path.join(context, 'Dockerfile'), 'FROM localhost:5000/busybox\nRUNN echo\n');
    const failed = await w.next('build-failed');
    expect(failed.error).toMatchObject({
      location: { range: { start: 2, end: 2 } },
      source: { text: expect.stringContaining('RUNN echo') },
    });
    writeFileSync(path.join(context, 'Dockerfile'), 'FROM localhost:5000/busybox\nRUN echo 2\n');
    expect((await w.succeeded()).build).toBe(3);
  });

  it('--run restarts the container on the new image and stops the old one', async () => {
    const context = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox',
        'COPY message.txt /message.txt',
        // A shell as PID 1 ignores SIGTERM unless it traps it.
        `CMD ["sh", "-c", "trap 'exit 0' TERM; cat /message.txt; while true; do sleep 0.1; done"]`,
        '',
      ].join('\n'),
      'message.txt': 'first\n',
    });
    const w = await watch({ context }, { run: { stopTimeoutMs: 5_000 } });
    const first = await w.succeeded();
    await w.next('container-output', (e) => e.data.toString().includes('first'));
    expect(runcContainers()).toHaveLength(1);

    writeFileSync(path.join(context, 'message.txt'), 'second\n');
    const second = await w.succeeded();
    await w.next('container-output', (e) => e.data.toString().includes('second'));
    const stopped = w.events.find((e) => e.type === 'container-stopped');
    expect(stopped).toMatchObject({ imageId: first.result.imageId });
    expect(second.result.imageId).not.toBe(first.result.imageId);
    expect(runcContainers()).toHaveLength(1);
    await w.session.stop();
    expect(runcContainers()).toEqual([]);
  });

  it('keeps open files, mounts and memory flat over 200 rebuilds', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nCOPY src /src\n',
      'src/n.txt': '0\n',
    });
    // In a process of its own: the test runner's memory is not tbuild's.
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        path.join(REPO_ROOT, 'test/helpers/watch-soak.ts'),
        dirs.store,
        context,
        '200',
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const samples = out
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            build: number;
            fds: number;
            mounts: number;
            heap: number;
            external: number;
            rss: number;
          },
      );
    expect(samples.at(-1)?.build).toBe(200);
    // After warm-up (caches, JIT, the allocator's arenas) against the end.
    const baseline = samples.find((s) => s.build === 50)!;
    const end = samples.at(-1)!;
    expect(end.fds).toBeLessThanOrEqual(baseline.fds);
    expect(samples.every((s) => s.mounts === 0)).toBe(true);
    // Each end is the least of three samples after a full GC: a leak raises every sample.
    const least = (key: 'heap' | 'external', builds: number[]) =>
      Math.min(...samples.filter((s) => builds.includes(s.build)).map((s) => s[key]));
    const growth = (key: 'heap' | 'external') =>
      least(key, [180, 190, 200]) - least(key, [50, 60, 70]);
    // The JS heap grows ~3 KB per build here from V8 optimising more functions (code space,
    // seen in heap snapshots of builds 100 and 400), slowing as it goes. A leak of 8 KB per
    // build (130 builds apart) fails this.
    expect(growth('heap')).toBeLessThan(1024 * 1024);
    // External memory (Buffers) moves in whole buffers: a 2.2 MB one is alive at some
    // samples and not at others. A leaked 32 KB buffer per build fails this.
    expect(growth('external')).toBeLessThan(4 * 1024 * 1024);
    // RSS moves in allocator steps; this catches a native leak, not page-level noise.
    expect(end.rss - baseline.rss).toBeLessThan(32 * 1024 * 1024);
  }, 600_000);
});

/** Containers runc knows of in the test store. */
function runcContainers(): string[] {
  const out = execFileSync('runc', ['--root', path.join(dirs.store, 'runc', 'runc'), 'list', '-q']);
  return out.toString().split('\n').filter(Boolean);
}

describe('tbuild watch on the command line', () => {
  it('rewrites --iidfile after each build, prints a summary, and exits 130 on Ctrl-C', async () => {
    const { spawn } = await import('node:child_process');
    const { TBUILD_BIN } = await import('../helpers/run-tbuild.ts');
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox\nCOPY app.txt /app.txt\n',
      'app.txt': 'one\n',
    });
    const iidfile = path.join(dirs.scratch, 'watch-iid');
    const child = spawn(
      process.execPath,
      [
        TBUILD_BIN,
        'build',
        '--watch',
        '--root',
        dirs.store,
        '--progress=plain',
        '--debounce',
        '20ms',
        '--iidfile',
        iidfile,
        context,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const until = async (check: () => boolean) => {
      while (!check()) {
        if (child.exitCode !== null) throw new Error(`watch exited early:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const iid = () => {
      try {
        return readFileSync(iidfile, 'utf8');
      } catch {
        return '';
      }
    };
    await until(() => iid() !== '' && stderr.includes('[watch] watching'));
    const first = iid();
    writeFileSync(path.join(context, 'app.txt'), 'two\n');
    await until(() => iid() !== first);
    await until(() => /\[watch\] build 2: image [0-9a-f]{12} ready/.test(stderr));
    expect(stderr).toContain('changed: ');
    expect(stderr).toContain('app.txt changed');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  });

  it('refuses watch flags without --watch, and a command without --run', async () => {
    const { runTbuild } = await import('../helpers/run-tbuild.ts');
    const noWatch = await runTbuild(['build', '--queue', '.']);
    expect(noWatch.code).toBe(125);
    expect(noWatch.stderr).toContain('--queue needs --watch');
    const context = await makeContext({ Dockerfile: 'FROM scratch\n' });
    const noRun = await runTbuild(['watch', '--root', dirs.store, context, '--', 'echo']);
    expect(noRun.code).not.toBe(0);
    expect(noRun.stderr).toContain('a command after -- is for --run');
  });
});
