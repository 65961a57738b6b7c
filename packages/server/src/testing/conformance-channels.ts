/** Conformance: channel history, recovery, publish idempotency, subscriptions. */
import { describe, expect, it } from 'vitest';
import type { Engine, StoredEvent } from '../engine/types.js';
import { EPOCH_RE, createReq, makeTask, sleep, uid, waitFor, type OpenEngine } from './helpers.js';

export function describeChannelConformance(engine: OpenEngine): void {
  describe('history', () => {
    async function publishN(e: Engine, channel: string, n: number): Promise<StoredEvent[]> {
      const out: StoredEvent[] = [];
      for (let i = 1; i <= n; i++) out.push((await e.publish({ channel, data: { i } })).event);
      return out;
    }

    it('gives an empty channel offset 0 and keeps its epoch for the first event', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const empty = await e.history(channel, { limit: 10 });
      expect(empty).toMatchObject({ offset: 0, recovered: true, events: [] });
      expect(empty.epoch).toMatch(EPOCH_RE);
      expect(await e.history(channel, { since: { epoch: empty.epoch, offset: 0 }, limit: 10 })).toMatchObject({
        recovered: true,
        events: [],
      });
      const { event } = await e.publish({ channel, data: 'x' });
      expect(event).toMatchObject({ channel, epoch: empty.epoch, offset: 1, data: 'x' });
    });

    it('numbers events 1, 2, 3 … and returns the latest `limit` without since', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const events = await publishN(e, channel, 10);
      expect(events.map((ev) => ev.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const latest = await e.history(channel, { limit: 3 });
      expect(latest).toMatchObject({ epoch: events[0]?.epoch, offset: 10, recovered: true });
      expect(latest.events.map((ev) => ev.data)).toEqual([{ i: 8 }, { i: 9 }, { i: 10 }]);
      expect((await e.history(channel, { limit: 0 })).events).toEqual([]);
      expect((await e.history(channel, { limit: 100 })).events).toEqual(events);
    });

    it('recovers from offset 0 of the current epoch and pages with limit', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const events = await publishN(e, channel, 10);
      const epoch = events[0]?.epoch as string;
      const pages: number[][] = [];
      for (let offset = 0, guard = 0; guard < 10; guard++) {
        const page = await e.history(channel, { since: { epoch, offset }, limit: 4 });
        expect(page).toMatchObject({ epoch, offset: 10, recovered: true });
        if (page.events.length === 0) break;
        pages.push(page.events.map((ev) => ev.offset));
        offset = page.events.at(-1)?.offset as number;
      }
      expect(pages).toEqual([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10],
      ]);
      const all = await e.history(channel, { since: { epoch, offset: 0 }, limit: 100 });
      expect(all.events).toEqual(events);
    });

    it('answers recovered:false with no events for another epoch or an offset beyond the top', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const events = await publishN(e, channel, 3);
      const epoch = events[0]?.epoch as string;
      const other = epoch === 'other-epoch' ? 'another-epoch' : 'other-epoch';
      expect(await e.history(channel, { since: { epoch: other, offset: 1 }, limit: 10 })).toEqual({
        epoch,
        offset: 3,
        recovered: false,
        events: [],
      });
      expect(await e.history(channel, { since: { epoch, offset: 4 }, limit: 10 })).toEqual({
        epoch,
        offset: 3,
        recovered: false,
        events: [],
      });
      expect(await e.history(channel, { since: { epoch, offset: 3 }, limit: 10 })).toEqual({
        epoch,
        offset: 3,
        recovered: true,
        events: [],
      });
    });

    it('trims by count: recovery needing a trimmed event fails, one just inside succeeds', async () => {
      const e = await engine({ historySize: 5 });
      const channel = `room:${uid('r')}`;
      const events = await publishN(e, channel, 8);
      const epoch = events[0]?.epoch as string;
      const latest = await e.history(channel, { limit: 100 });
      expect(latest.offset).toBe(8);
      expect(latest.events.map((ev) => ev.offset)).toEqual([4, 5, 6, 7, 8]);
      expect(await e.history(channel, { since: { epoch, offset: 2 }, limit: 100 })).toMatchObject({
        recovered: false,
        events: [],
      });
      const inside = await e.history(channel, { since: { epoch, offset: 3 }, limit: 100 });
      expect(inside.recovered).toBe(true);
      expect(inside.events.map((ev) => ev.offset)).toEqual([4, 5, 6, 7, 8]);
    });

    it('trims by age, keeping the position', async () => {
      const e = await engine({ historyTtlMs: 200 });
      const channel = `room:${uid('r')}`;
      const events = await publishN(e, channel, 3);
      const epoch = events[0]?.epoch as string;
      await sleep(500);
      const fresh = await e.publish({ channel, data: 'fresh' });
      expect(fresh.event).toMatchObject({ epoch, offset: 4 });
      const latest = await e.history(channel, { limit: 100 });
      expect(latest.events.map((ev) => ev.data)).toEqual(['fresh']);
      expect(await e.history(channel, { since: { epoch, offset: 0 }, limit: 100 })).toMatchObject({
        recovered: false,
        events: [],
      });
      expect((await e.history(channel, { since: { epoch, offset: 3 }, limit: 100 })).events).toEqual([fresh.event]);
    });
  });

  describe('publish idempotency', () => {
    it('returns the first position for a repeated key and appends nothing', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const first = await e.publish({ channel, data: 1, idempotencyKey: 'k' });
      const again = await e.publish({ channel, data: 2, idempotencyKey: 'k' });
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ event: first.event, duplicate: true });
      expect((await e.history(channel, { limit: 10 })).events).toEqual([first.event]);
    });

    it('scopes keys per channel and forgets them after idempotencyTtlMs', async () => {
      const e = await engine({ idempotencyTtlMs: 150 });
      const a = `room:${uid('a')}`;
      const b = `room:${uid('b')}`;
      expect((await e.publish({ channel: a, data: 1, idempotencyKey: 'k' })).duplicate).toBe(false);
      expect((await e.publish({ channel: b, data: 1, idempotencyKey: 'k' })).duplicate).toBe(false);
      await sleep(400);
      const later = await e.publish({ channel: a, data: 2, idempotencyKey: 'k' });
      expect(later.duplicate).toBe(false);
      expect(later.event.offset).toBe(2);
    });
  });

  describe('subscribe', () => {
    it('delivers every appended event in offset order, and nothing after unsubscribe', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const sentinel = `room:${uid('s')}`;
      const got: number[] = [];
      const sentinelGot: number[] = [];
      const unsubscribe = await e.subscribe(channel, (ev) => got.push(ev.offset));
      const unsubscribeSentinel = await e.subscribe(sentinel, (ev) => sentinelGot.push(ev.offset));
      await Promise.all(Array.from({ length: 50 }, (_, i) => e.publish({ channel, data: i })));
      await waitFor(() => got.length >= 50);
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      await unsubscribe();
      await e.publish({ channel, data: 'after' });
      await e.publish({ channel: sentinel, data: 'done' });
      await waitFor(() => sentinelGot.length === 1);
      expect(got).toHaveLength(50);
      await unsubscribeSentinel();
    });

    it('delivers the events of a commit to subscribers of each channel', async () => {
      const e = await engine();
      const task = makeTask({ id: uid('t-'), owner: uid('u-') });
      const got: StoredEvent[] = [];
      const unsubscribe = await e.subscribe(`user:${task.owner}`, (ev) => got.push(ev));
      const r = await e.commit(
        createReq(task, {
          events: [
            { channel: `task:${task.id}`, data: 'a' },
            { channel: `user:${task.owner}`, data: 'b' },
          ],
        }),
      );
      await waitFor(() => got.length >= 1);
      expect(r.ok && got).toEqual([r.ok ? r.events[1] : null]);
      await unsubscribe();
    });

    it('serves two listeners on one channel and counts live subscriptions', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const base = e.stats().subscriptions;
      const a: number[] = [];
      const b: number[] = [];
      const ua = await e.subscribe(channel, (ev) => a.push(ev.offset));
      const ub = await e.subscribe(channel, (ev) => b.push(ev.offset));
      expect(e.stats().subscriptions).toBe(base + 2);
      await e.publish({ channel, data: 1 });
      await e.publish({ channel, data: 2 });
      await waitFor(() => a.length >= 2 && b.length >= 2);
      expect(a).toEqual([1, 2]);
      expect(b).toEqual([1, 2]);
      await ua();
      await ua(); // idempotent
      expect(e.stats().subscriptions).toBe(base + 1);
      await e.publish({ channel, data: 3 });
      await waitFor(() => b.length >= 3);
      expect(a).toEqual([1, 2]);
      await ub();
      expect(e.stats().subscriptions).toBe(base);
    });

    it('keeps committing and delivering to other listeners when a listener throws', async () => {
      const e = await engine();
      const channel = `room:${uid('r')}`;
      const got: number[] = [];
      const u1 = await e.subscribe(channel, () => {
        throw new Error('listener failure (expected in this test)');
      });
      const u2 = await e.subscribe(channel, (ev) => got.push(ev.offset));
      await e.publish({ channel, data: 1 });
      await e.publish({ channel, data: 2 });
      await waitFor(() => got.length >= 2);
      expect(got).toEqual([1, 2]);
      await u1();
      await u2();
    });
  });
}
