/**
 * Subordinate ids: the ranges /etc/subuid and /etc/subgid give a user (by name or by
 * uid), which newuidmap/newgidmap map into the user's namespaces (subuid(5)).
 */

/** `count` ids from `start` on the host. */
export interface SubidRange {
  start: number;
  count: number;
}

/** The user the ranges are for. */
export interface SubidOwner {
  name: string;
  id: number;
}

/** The ranges of `text` (an /etc/subuid or /etc/subgid) that belong to `owner`, in order. */
export function parseSubids(text: string, owner: SubidOwner): SubidRange[] {
  const ranges: SubidRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [who, start, count] = line.split(':');
    if (who !== owner.name && who !== String(owner.id)) continue;
    const range = { start: Number(start), count: Number(count) };
    if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.count)) continue;
    if (range.count > 0) ranges.push(range);
  }
  return ranges;
}
