import { describe, expect, it } from 'vitest';
import { parseSubids, planUserNamespace } from './index.ts';

const SUBUID =
  '# comment\nalice:100000:65536\n1002:300000:1000\nbob:200000:65536\nalice:500000:10\n';

describe('subordinate ids', () => {
  it('are found by user name and by uid, in file order', () => {
    expect(parseSubids(SUBUID, { name: 'alice', id: 1001 })).toEqual([
      { start: 100000, count: 65536 },
      { start: 500000, count: 10 },
    ]);
    expect(parseSubids(SUBUID, { name: 'carol', id: 1002 })).toEqual([
      { start: 300000, count: 1000 },
    ]);
    expect(parseSubids(SUBUID, { name: 'dave', id: 1003 })).toEqual([]);
  });
});

describe('planning a user namespace', () => {
  it('maps root to the user, then each subordinate range on the next inside ids', () => {
    const plan = planUserNamespace({
      name: 'alice',
      uid: 1001,
      gid: 1001,
      subuid: SUBUID,
      subgid: 'alice:100000:65536\n',
    });
    expect(plan).toEqual({
      uidMap: [
        [0, 1001, 1],
        [1, 100000, 65536],
        [65537, 500000, 10],
      ],
      gidMap: [
        [0, 1001, 1],
        [1, 100000, 65536],
      ],
      singleId: false,
    });
  });

  it('falls back to a single-id map when the user has no subordinate uids or gids', () => {
    const plan = planUserNamespace({
      name: 'dave',
      uid: 1003,
      gid: 50,
      subuid: SUBUID,
      subgid: '',
    });
    expect(plan).toEqual({ uidMap: [[0, 1003, 1]], gidMap: [[0, 50, 1]], singleId: true });
  });
});
