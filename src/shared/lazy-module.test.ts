import { describe, expect, it } from 'vitest';
import { lazyModule } from './lazy-module.ts';

describe('lazyModule', () => {
  it('loads once and hands every caller the same module', async () => {
    let loads = 0;
    const load = lazyModule(async () => ({ n: ++loads }));
    const [a, b] = await Promise.all([load(), load()]);
    expect(a).toBe(b);
    expect(await load()).toBe(a);
    expect(loads).toBe(1);
  });

  it('tries again after a failed load', async () => {
    let calls = 0;
    const load = lazyModule(async () => {
      calls++;
      if (calls === 1) throw new Error('first load fails');
      return 'loaded';
    });
    await expect(load()).rejects.toThrow('first load fails');
    expect(await load()).toBe('loaded');
    expect(calls).toBe(2);
  });
});
