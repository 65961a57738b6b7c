import { describe, expect, it } from 'vitest';
import { DEFAULT_BATCH, countChildren, endOfChildren, followChildren, progressOfChildren } from './batch.js';
import { reduce } from './reduce.js';
import type { BatchOptions, ChildCounts, Task, TaskStatus } from './task.js';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);
const base = (id: string, extra: Record<string, unknown> = {}): Task =>
  reduce(null, { type: 'create', id, owner: 'alice', ...extra }, T0) as Task;
const child = (status: TaskStatus, progress: number | null = null): Task => ({
  ...base(`c-${status}-${String(progress)}`, { parentId: 'p' }),
  status,
  progress,
});
const counts = (over: Partial<ChildCounts>): ChildCounts => ({
  total: 0,
  queued: 0,
  running: 0,
  stalled: 0,
  awaiting_approval: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  ...over,
});

describe('countChildren', () => {
  it('counts every status and the total, which the counts always sum to', () => {
    const c = countChildren([
      child('queued'),
      child('running', 5),
      child('running', 7),
      child('failed'),
      child('stalled'),
    ]);
    expect(c).toEqual(counts({ total: 5, queued: 1, running: 2, failed: 1, stalled: 1 }));
    expect(c.queued + c.running + c.stalled + c.awaiting_approval + c.succeeded + c.failed + c.cancelled).toBe(c.total);
  });
});

describe('progressOfChildren', () => {
  const batch = (expectedChildren: number): BatchOptions => ({ ...DEFAULT_BATCH, expectedChildren });
  it.each([
    ['no child, none expected', [], 0, null],
    ['no child, 4 expected', [], 4, 0],
    ['one half done', [child('running', 50)], 0, 50],
    ['null progress counts 0', [child('running', null), child('running', 100)], 0, 50],
    ['a finished child counts 100, whatever its progress', [child('failed', 10), child('cancelled', null)], 0, 100],
    ['the mean over max(total, expected)', [child('succeeded'), child('running', 50)], 4, 37.5],
    ['expected below total uses total', [child('running', 30), child('running', 60)], 1, 45],
    ['rounded to 2 decimals', [child('running', 10), child('running', 0), child('running', 0)], 0, 3.33],
  ] as Array<[string, Task[], number, number | null]>)('%s', (_name, kids, expected, progress) => {
    expect(progressOfChildren(kids, batch(expected))).toBe(progress);
  });
});

describe('endOfChildren', () => {
  const self = { ...DEFAULT_BATCH, completeWhen: 'children' as const };
  it.each([
    ['no child yet', counts({}), 0, null],
    ['one still running', counts({ total: 2, running: 1, succeeded: 1 }), 0, null],
    ['fewer than expected', counts({ total: 2, succeeded: 2 }), 3, null],
    ['every child succeeded', counts({ total: 3, succeeded: 3 }), 3, 'succeeded'],
    ['every child cancelled', counts({ total: 2, cancelled: 2 }), 0, 'cancelled'],
    ['a failure', counts({ total: 3, succeeded: 2, failed: 1 }), 0, 'failed'],
    ['a cancelled one among successes counts as failed', counts({ total: 3, succeeded: 2, cancelled: 1 }), 0, 'failed'],
  ] as Array<[string, ChildCounts, number, TaskStatus | null]>)('%s', (_name, c, expected, status) => {
    expect(endOfChildren(c, { ...self, expectedChildren: expected })?.status ?? null).toBe(status);
  });

  it('names how many of how many failed, cancelled ones included', () => {
    expect(endOfChildren(counts({ total: 12, succeeded: 9, failed: 2, cancelled: 1 }), self)?.error).toEqual({
      code: 'children_failed',
      message: '3 of 12 children failed',
    });
  });
});

describe('a parent through reduce()', () => {
  it('becomes a parent with the default batch on its first child, its version bumped once', () => {
    const parent = base('p');
    const next = reduce(parent, { type: 'children', children: [child('queued')] }, T0 + 1) as Task;
    expect(next.batch).toEqual(DEFAULT_BATCH);
    expect(next.children).toEqual(counts({ total: 1, queued: 1 }));
    expect(next.progress).toBe(0);
    expect(next.version).toBe(parent.version + 1);
    expect(reduce(next, { type: 'children', children: [child('queued')] }, T0 + 2)).toBeNull();
  });

  it('ends with completeWhen children, with finishedAt; its counts still follow afterwards, its status does not', () => {
    const parent = base('p', { batch: { completeWhen: 'children', expectedChildren: 2 } });
    const one = reduce(parent, { type: 'children', children: [child('succeeded')] }, T0 + 1) as Task;
    expect(one).toMatchObject({ status: 'running', startedAt: new Date(T0 + 1).toISOString() });
    const done = reduce(one, { type: 'children', children: [child('succeeded'), child('failed')] }, T0 + 2) as Task;
    expect(done).toMatchObject({ status: 'failed', error: { code: 'children_failed' }, progress: 100 });
    expect(done.finishedAt).toBe(new Date(T0 + 2).toISOString());
    const later = reduce(
      done,
      { type: 'children', children: [child('succeeded'), child('failed'), child('running', 5)] },
      T0 + 3,
    ) as Task;
    expect(later).toMatchObject({ status: 'failed', progress: 100, finishedAt: done.finishedAt });
    expect(later.children?.total).toBe(3);
  });

  it('starts with progress 0 when children are expected, null when none are', () => {
    expect(base('p', { batch: { expectedChildren: 3 } }).progress).toBe(0);
    expect(base('p', { batch: {} }).progress).toBeNull();
    expect(base('p', { batch: { progressFrom: 'self', expectedChildren: 3 } }).progress).toBeNull();
  });

  it('runs once a child has left the queue: from queued, and again from stalled', () => {
    const parent = base('p', { batch: { expectedChildren: 2 } });
    const waiting = reduce(parent, { type: 'children', children: [child('queued')] }, T0 + 1) as Task;
    expect(waiting.status).toBe('queued');
    const running = reduce(waiting, { type: 'children', children: [child('running', 10)] }, T0 + 2) as Task;
    expect(running).toMatchObject({ status: 'running', startedAt: new Date(T0 + 2).toISOString() });
    const stalled = reduce(running, { type: 'stall' }, T0 + 3) as Task;
    expect(stalled.status).toBe('stalled');
    const again = reduce(stalled, { type: 'children', children: [child('awaiting_approval', 10)] }, T0 + 4) as Task;
    expect(again).toMatchObject({ status: 'running', startedAt: running.startedAt });
  });

  it('refuses progress in a PATCH of a parent whose progress follows its children, but takes stage and message', () => {
    const parent = reduce(base('p'), { type: 'children', children: [child('running', 10)] }, T0) as Task;
    expect(() => reduce(parent, { type: 'update', progress: 50 }, T0)).toThrow(/follows its children/);
    expect(reduce(parent, { type: 'update', stage: 'pages', message: 'writing' }, T0)).toMatchObject({
      stage: 'pages',
    });
    const own = base('q', { batch: { progressFrom: 'self' } });
    expect(reduce(own, { type: 'update', progress: 50 }, T0)).toMatchObject({ progress: 50 });
  });

  it('validates parentId, batch and tags at creation', () => {
    expect(() => base('x', { parentId: 'bad id' })).toThrow(/parentId/);
    expect(() => base('x', { batch: { progressFrom: 'nobody' } })).toThrow(/progressFrom/);
    expect(() => base('x', { batch: { expectedChildren: -1 } })).toThrow(/expectedChildren/);
    expect(() => base('x', { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) })).toThrow(/tags/);
    expect(() => base('x', { tags: ['no spaces'] })).toThrow(/tag/);
    expect(base('x', { tags: ['a', 'b', 'a'], parentId: 'p' })).toMatchObject({
      tags: ['a', 'b'],
      parentId: 'p',
      children: null,
    });
  });

  it('followChildren is pure: the same children give the same parent, in any order', () => {
    const parent = base('p');
    const kids = [child('running', 20), child('succeeded'), child('queued'), child('stalled', 40)];
    const a = followChildren(parent, kids);
    const b = followChildren(parent, [...kids].reverse());
    expect(a).toEqual(b);
    expect(a?.progress).toBe(40);
  });
});
