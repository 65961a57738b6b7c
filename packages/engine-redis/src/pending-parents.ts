/**
 * Parents whose snapshot may lag their children (`PendingParents`, see the server's
 * tasks/batches.ts): a sorted set in the `{idx}` slot, parent id by when it was
 * marked. A child's commit and its parent's live on different shards, so the parent
 * is marked before the child commits and cleared once it is up to date.
 */
import type { PendingParents } from '@taskwire/server/engine';
import type { Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';

export function pendingParents(
  client: () => Client,
  keys: Keys,
  guard: <T>(fn: () => Promise<T>) => Promise<T>,
): PendingParents {
  const key = keys.index.pendingParents;
  return {
    mark: (parentId, now) =>
      guard(async () => {
        await client().zadd(key, now, parentId);
      }),
    due: (before, limit) =>
      guard(async () => {
        const flat = await client().zrangebyscore(
          key,
          '-inf',
          before,
          'WITHSCORES',
          'LIMIT',
          0,
          Math.max(0, Math.floor(limit)),
        );
        const out: Array<{ id: string; mark: number }> = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i] as string, mark: Number(flat[i + 1]) });
        return out;
      }),
    clear: (parentId, mark) =>
      guard(async () => {
        await scripts().clearMark.run(client(), [key], [parentId, mark]);
      }),
  };
}
