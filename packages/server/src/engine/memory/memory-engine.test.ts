import { describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { runEngineConformance } from '../../testing/index.js';
import { makeTask } from '../../testing/helpers.js';
import { createMemoryEngine } from './memory-engine.js';

const listenerErrors: unknown[] = [];

runEngineConformance('memory', (limits) =>
  Promise.resolve(createMemoryEngine(limits, { onListenerError: (err) => listenerErrors.push(err) })),
);

describe('memory engine', () => {
  it('draws a new epoch per channel and per instance, so a restart changes positions', async () => {
    const a = createMemoryEngine();
    const b = createMemoryEngine();
    const ea = (await a.publish({ channel: 'room:x', data: 1 })).event.epoch;
    const eb = (await b.publish({ channel: 'room:x', data: 1 })).event.epoch;
    const ea2 = (await a.publish({ channel: 'room:y', data: 1 })).event.epoch;
    expect(ea).not.toBe(eb);
    expect(ea).not.toBe(ea2);
    for (const e of [ea, eb, ea2]) expect(e).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    const h = await b.history('room:x', { since: { epoch: ea, offset: 0 }, limit: 10 });
    expect(h.recovered).toBe(false);
    await a.close();
    await b.close();
  });
});

describe('memory engine: bounded memory', () => {
  it('keeps at most historySize events per channel and prunes expired publish keys', async () => {
    let now = 1_000_000;
    const e = createMemoryEngine({ historySize: 100, idempotencyTtlMs: 1000 }, { now: () => now });
    for (let i = 0; i < 20_000; i++) {
      now += 1;
      await e.publish({ channel: `room:r${i % 10}`, data: i, idempotencyKey: `k${i}` });
    }
    const sizes = e.internalSizes();
    expect(sizes.retainedEvents).toBeLessThanOrEqual(10 * 100);
    // Keys live 1000 ms at one publish per ms: about 1000 alive, the rest pruned as we went.
    expect(sizes.publishKeys).toBeLessThan(2000);
    const h = await e.history('room:r3', { limit: 1000 });
    expect(h.offset).toBe(2000);
    expect(h.events).toHaveLength(100);
    await e.close();
  });

  it('forgets idle empty channels and expired claims', async () => {
    let now = 1_000_000;
    const e = createMemoryEngine({ historyTtlMs: 1000 }, { now: () => now });
    for (let i = 0; i < 5000; i++) {
      now += 10;
      await e.publish({ channel: `room:c${i}`, data: i });
      await e.claim(`ticket-${i}`, 500);
    }
    const sizes = e.internalSizes();
    // Events live 1000 ms at one channel per 10 ms: ~100 channels hold events; idle ones go.
    expect(sizes.channels).toBeLessThan(1000);
    expect(sizes.claims).toBeLessThan(1000);
    await e.close();
  });

  it('keeps the stall index proportional to the tasks with a deadline', async () => {
    const e = createMemoryEngine();
    const task = makeRunning('t1');
    await e.commit({ task, expectedVersion: 0, events: [], stallAt: 1 });
    for (let v = 1; v <= 10_000; v++) {
      const r = await e.commit({
        task: { ...task, version: v + 1 },
        expectedVersion: v,
        events: [],
        stallAt: 1000 + v,
      });
      expect(r.ok).toBe(true);
    }
    expect(e.internalSizes().stallHeap).toBeLessThan(3000);
    expect((await e.dueStalls(Number.MAX_SAFE_INTEGER, 10)).map((t) => t.id)).toEqual(['t1']);
    await e.close();
  });
});

describe('memory engine: delivery', () => {
  it('delivers in offset order when a listener publishes re-entrantly', async () => {
    const e = createMemoryEngine();
    const a: number[] = [];
    const b: number[] = [];
    await e.subscribe('room:x', (ev) => {
      a.push(ev.offset);
      if (ev.offset < 5) void e.publish({ channel: 'room:x', data: ev.offset });
    });
    await e.subscribe('room:x', (ev) => b.push(ev.offset));
    await e.publish({ channel: 'room:x', data: 0 });
    expect(a).toEqual([1, 2, 3, 4, 5]);
    expect(b).toEqual([1, 2, 3, 4, 5]);
    await e.close();
  });

  it('does not hand an event to a listener added while that event is delivered', async () => {
    const e = createMemoryEngine();
    const late: number[] = [];
    let added = false;
    await e.subscribe('room:x', () => {
      if (added) return;
      added = true;
      void e.subscribe('room:x', (ev) => late.push(ev.offset));
    });
    await e.publish({ channel: 'room:x', data: 1 });
    await e.publish({ channel: 'room:x', data: 2 });
    expect(late).toEqual([2]);
    expect(e.stats().subscriptions).toBe(2);
    await e.close();
    expect(e.stats().subscriptions).toBe(0);
  });

  it('reports a throwing listener instead of failing the commit', async () => {
    const errors: unknown[] = [];
    const e = createMemoryEngine({}, { onListenerError: (err) => errors.push(err) });
    await e.subscribe('room:x', () => {
      throw new Error('boom');
    });
    await expect(e.publish({ channel: 'room:x', data: 1 })).resolves.toMatchObject({ duplicate: false });
    expect(errors).toHaveLength(1);
    await e.close();
  });
});

const makeRunning = (id: string): Task =>
  makeTask({ id, status: 'running', stallTimeoutMs: 1000, startedAt: '2026-11-22T10:00:00.000Z' });
