/** Conformance: stall deadlines, claims, task listing, ping and close. */
import { describe, expect, it } from 'vitest';
import type { TaskStatus } from '@taskwire/protocol';
import type { Engine, EngineLimits } from '../engine/types.js';
import { createReq, makeTask, sleep, uid, type OpenEngine } from './helpers.js';

export function describeMiscConformance(
  engine: OpenEngine,
  factory: (limits?: Partial<EngineLimits>) => Promise<Engine>,
): void {
  describe('stalls, claims, listing, lifecycle', () => {
    it('reports tasks whose stall deadline passed, up to limit, and forgets a cleared deadline', async () => {
      const e = await engine();
      const now = Date.now();
      const due1 = makeTask({ id: uid('t-'), status: 'running' });
      const due2 = makeTask({ id: uid('t-'), status: 'running' });
      const later = makeTask({ id: uid('t-'), status: 'running' });
      const none = makeTask({ id: uid('t-'), status: 'running' });
      await e.commit(createReq(due1, { stallAt: now - 2000 }));
      await e.commit(createReq(due2, { stallAt: now - 1000 }));
      await e.commit(createReq(later, { stallAt: now + 3_600_000 }));
      await e.commit(createReq(none));
      const ours = new Set([due1.id, due2.id, later.id, none.id]);
      const dueIds = (await e.dueStalls(now, 1000)).filter((t) => ours.has(t.id));
      expect(dueIds.map((t) => t.id).sort()).toEqual([due1.id, due2.id].sort());
      expect(dueIds.find((t) => t.id === due1.id)).toEqual(due1);
      expect((await e.dueStalls(now, 1)).length).toBeLessThanOrEqual(1);
      // Re-reading does not consume a deadline; replacing it with null does.
      expect((await e.dueStalls(now, 1000)).filter((t) => ours.has(t.id))).toHaveLength(2);
      const stalled = { ...due1, status: 'stalled' as TaskStatus, version: 2 };
      await e.commit({ task: stalled, expectedVersion: 1, events: [], stallAt: null });
      const after = (await e.dueStalls(now, 1000)).filter((t) => ours.has(t.id));
      expect(after.map((t) => t.id)).toEqual([due2.id]);
      // A pushed deadline is no longer due.
      await e.commit({ task: due2, expectedVersion: 1, events: [], stallAt: now + 60_000 });
      expect((await e.dueStalls(now, 1000)).filter((t) => ours.has(t.id))).toEqual([]);
    });

    it('claims a key once until it expires', async () => {
      const e = await engine();
      const key = uid('ticket-');
      expect(await e.claim(key, 150)).toBe(true);
      expect(await e.claim(key, 150)).toBe(false);
      expect(await e.claim(uid('ticket-'), 150)).toBe(true);
      await sleep(400);
      expect(await e.claim(key, 150)).toBe(true);
    });

    it('lists tasks newest first with a cursor and filters by owner and status', async () => {
      const e = await engine();
      const owner = uid('u-');
      const other = uid('u-');
      const at = (min: number): string => new Date(Date.UTC(2026, 10, 22, 10, min)).toISOString();
      const specs: Array<[string, number, TaskStatus]> = [
        ['a', 1, 'queued'],
        ['b', 2, 'running'],
        ['c', 3, 'running'],
        ['d', 3, 'succeeded'], // same createdAt as c: id breaks the tie (d before c)
        ['e', 4, 'running'],
        ['f', 5, 'failed'],
        ['g', 6, 'running'],
      ];
      for (const [id, min, status] of specs) {
        await e.commit(createReq(makeTask({ id: `${owner}-${id}`, owner, status, createdAt: at(min) })));
      }
      await e.commit(createReq(makeTask({ id: `${other}-x`, owner: other, createdAt: at(7) })));
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page = await e.listTasks({ owner, limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.tasks.length).toBeLessThanOrEqual(3);
        seen.push(...page.tasks.map((t) => t.id.slice(owner.length + 1)));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(['g', 'f', 'e', 'd', 'c', 'b', 'a']);
      const running = await e.listTasks({ owner, status: 'running', limit: 10 });
      expect(running.tasks.map((t) => t.id.slice(owner.length + 1))).toEqual(['g', 'e', 'c', 'b']);
      expect(running.nextCursor).toBeNull();
      const runningPage = await e.listTasks({ owner, status: 'running', limit: 2 });
      expect(runningPage.tasks).toHaveLength(2);
      const rest = await e.listTasks({
        owner,
        status: 'running',
        limit: 2,
        cursor: runningPage.nextCursor as string,
      });
      expect(rest.tasks.map((t) => t.id.slice(owner.length + 1))).toEqual(['c', 'b']);
      expect((await e.listTasks({ owner: other, limit: 10 })).tasks.map((t) => t.id)).toEqual([`${other}-x`]);
      expect((await e.listTasks({ owner: uid('nobody-'), limit: 10 })).tasks).toEqual([]);
    });

    it('pings while open; close is idempotent and ping fails afterwards', async () => {
      const e = await factory();
      await e.start();
      await expect(e.ping()).resolves.toBeUndefined();
      await e.close();
      await e.close();
      await expect(e.ping()).rejects.toThrow();
    });
  });
}
