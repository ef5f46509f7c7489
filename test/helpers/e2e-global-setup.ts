/**
 * The e2e run's global set-up: the Debian base of test/e2e/rootless-debian.test.ts
 * (debootstrap, about a minute) is made in the background from the start, beside the test
 * files that run before it (they run one at a time), instead of on the run's critical path.
 * The teardown stops it if the run ends first (a run of a few files).
 */
import { prefetchDebianRootfs } from './debian-base.ts';

export default function setup(): () => Promise<void> {
  const stop = new AbortController();
  const prefetch = prefetchDebianRootfs(stop.signal).catch(() => undefined);
  return async () => {
    stop.abort();
    await prefetch;
  };
}
