/** Conformance: tasks, compare-and-set commits, create idempotency. */
import { describe, expect, it } from 'vitest';
import { EPOCH_RE, createReq, makeTask, sleep, uid, type OpenEngine } from './helpers.js';

export function describeTaskConformance(engine: OpenEngine): void {
  describe('tasks and commit', () => {
    it('returns null for a missing task', async () => {
      const e = await engine();
      expect(await e.getTask(uid('missing-'))).toBeNull();
    });

    it('creates a task with expectedVersion 0 and reads it back', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-'), meta: { a: 1 } });
      const result = await e.commit(createReq(task));
      expect(result).toEqual({ ok: true, events: [] });
      expect(await e.getTask(task.id)).toEqual(task);
    });

    it('keeps what it stored whatever a caller does to the objects it committed or read (immutable snapshots)', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-'), meta: { a: { b: 1 } } });
      const copy = structuredClone(task);
      const data = { note: { n: 1 } };
      await e.commit({ ...createReq(task), events: [{ channel: `room:${task.id}`, data }] });
      // Change it all: an engine that keeps the objects froze them (the write throws); one that copied ignores it.
      const scribble = (f: () => void): void => {
        try {
          f();
        } catch {
          // frozen: nothing changed
        }
      };
      scribble(() => ((task.meta.a as { b: number }).b = 2));
      scribble(() => (data.note.n = 2));
      const read = (await e.getTask(task.id)) as typeof task;
      scribble(() => ((read.meta.a as { b: number }).b = 3));
      scribble(() => (read.title = 'changed'));
      expect(await e.getTask(task.id)).toEqual(copy);
      const [stored] = (await e.history(`room:${task.id}`, { limit: 1 })).events;
      scribble(() => ((stored?.data as typeof data).note.n = 3));
      expect((await e.history(`room:${task.id}`, { limit: 1 })).events[0]?.data).toEqual({ note: { n: 1 } });
    });

    it('refuses a create over an existing task with conflict and the current snapshot', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-') });
      await e.commit(createReq(task));
      const again = await e.commit(createReq({ ...task, title: 'other' }));
      expect(again).toEqual({ ok: false, reason: 'conflict', current: task });
    });

    it('refuses an update of a missing task with conflict and current null', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-'), version: 2 });
      expect(await e.commit({ ...createReq(task), expectedVersion: 1 })).toEqual({
        ok: false,
        reason: 'conflict',
        current: null,
      });
    });

    it('lets exactly one of concurrent commits with the same expectedVersion win', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-') });
      await e.commit(createReq(task));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          e.commit({
            task: { ...task, version: 2, message: `m${i}` },
            expectedVersion: 1,
            events: [],
            stallAt: null,
          }),
        ),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (!r.ok) expect(r.reason).toBe('conflict');
      const stored = await e.getTask(task.id);
      expect(stored?.version).toBe(2);
      expect(stored?.message).toBe(`m${winners[0]}`);
    });

    it('lets exactly one of concurrent creates of the same id win', async () => {
      const e = await engine();
      const id = uid('t-');
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => e.commit(createReq(makeTask({ id, title: `c${i}` })))),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    });

    it('appends events only when the version is unchanged, still compare-and-set', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-') });
      const channel = `task:${task.id}`;
      await e.commit(createReq(task));
      const ok = await e.commit({ task, expectedVersion: 1, events: [{ channel, data: 'log' }], stallAt: null });
      expect(ok.ok).toBe(true);
      await e.commit({ task: { ...task, version: 2 }, expectedVersion: 1, events: [], stallAt: null });
      const stale = await e.commit({ task, expectedVersion: 1, events: [{ channel, data: 'late' }], stallAt: null });
      expect(stale.ok).toBe(false);
      expect((await e.getTask(task.id))?.version).toBe(2);
      const h = await e.history(channel, { limit: 10 });
      expect(h.events.map((ev) => ev.data)).toEqual(['log']);
    });

    it('appends the events of a commit to several channels atomically with consecutive offsets', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-'), owner: uid('u-') });
      const tc = `task:${task.id}`;
      const uc = `user:${task.owner}`;
      const before = await e.history(tc, { limit: 0 });
      const r = await e.commit(
        createReq(task, {
          events: [
            { channel: tc, data: { n: 1 } },
            { channel: uc, data: { n: 2 } },
            { channel: tc, data: { n: 3 } },
          ],
        }),
      );
      if (!r.ok) throw new Error('commit failed');
      expect(r.events.map((ev) => [ev.channel, ev.offset, ev.data])).toEqual([
        [tc, 1, { n: 1 }],
        [uc, 1, { n: 2 }],
        [tc, 2, { n: 3 }],
      ]);
      expect(r.events[0]?.epoch).toBe(before.epoch);
      for (const ev of r.events) {
        expect(ev.epoch).toMatch(EPOCH_RE);
        expect(typeof ev.time).toBe('number');
      }
      const th = await e.history(tc, { limit: 10 });
      expect(th).toMatchObject({ epoch: before.epoch, offset: 2, recovered: true });
      expect(th.events).toEqual([r.events[0], r.events[2]]);
      expect((await e.history(uc, { limit: 10 })).events).toEqual([r.events[1]]);
    });

    it('keeps the first task of a create idempotency key: duplicate, lookupIdempotency', async () => {
      const e = await engine();
      const key = uid('k-');
      const first = makeTask({ id: uid('t-') });
      expect(await e.lookupIdempotency(key)).toBeNull();
      expect((await e.commit(createReq(first, { idempotency: { key, ttlMs: 60_000 } }))).ok).toBe(true);
      expect(await e.lookupIdempotency(key)).toBe(first.id);
      const second = makeTask({ id: uid('t-') });
      const channel = `task:${second.id}`;
      const dup = await e.commit(
        createReq(second, { idempotency: { key, ttlMs: 60_000 }, events: [{ channel, data: 1 }] }),
      );
      expect(dup).toEqual({ ok: false, reason: 'duplicate', taskId: first.id });
      expect(await e.getTask(second.id)).toBeNull();
      expect((await e.history(channel, { limit: 10 })).offset).toBe(0);
    });

    it('forgets a create idempotency key after its ttl', async () => {
      const e = await engine();
      const key = uid('k-');
      await e.commit(createReq(makeTask({ id: uid('t-') }), { idempotency: { key, ttlMs: 150 } }));
      await sleep(400);
      expect(await e.lookupIdempotency(key)).toBeNull();
    });
  });
}
