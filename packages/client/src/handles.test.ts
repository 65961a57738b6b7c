import type { EventFrame, Task } from '@taskwire/protocol';
import { describe, expect, it } from 'vitest';
import { TaskwireClientError } from './errors.js';
import { TaskHandle, TasksHandle } from './handles.js';
import type { Settle } from './requests.js';
import { Subscription } from './subscription.js';

const task = (
  id: string,
  version: number,
  status: Task['status'] = 'running',
  updatedAt = `2026-01-01T00:00:0${version % 10}.000Z`,
): Task => ({
  id,
  owner: 'alice',
  title: null,
  status,
  progress: null,
  stage: null,
  message: null,
  result: null,
  error: null,
  approval: null,
  meta: {},
  stallTimeoutMs: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt,
  startedAt: null,
  finishedAt: null,
  parentId: null,
  batch: null,
  children: null,
  tags: [],
  streams: {},
  version,
});

function sub(channel: string) {
  const settles: Array<Settle<unknown>> = [];
  const s = new Subscription(channel, {
    isConnected: () => true,
    send: <T>(_f: unknown, settle: Settle<T>) => settles.push(settle as Settle<unknown>),
    error: () => undefined,
  });
  return { s, settles };
}

const event = (channel: string, offset: number, t: Task): EventFrame => ({
  type: 'event',
  channel,
  epoch: 'e',
  offset,
  time: 0,
  data: { kind: 'task.updated', task: t },
});

describe('TaskHandle', () => {
  it('done() resolves with the terminal snapshot and getSnapshot keeps its identity between changes', async () => {
    const { s, settles } = sub('task:a');
    s.retain();
    const h = new TaskHandle('a', s, () => undefined);
    s.start();
    const done = h.done();
    expect(h.getSnapshot()).toBeUndefined();
    settles[0]?.({
      ok: true,
      result: { channel: 'task:a', epoch: 'e', offset: 1, events: [], snapshot: task('a', 1) },
    });
    const first = h.getSnapshot();
    expect(h.getSnapshot()).toBe(first);
    s.onEvent(event('task:a', 2, task('a', 2, 'succeeded')));
    expect(h.getSnapshot()).not.toBe(first);
    await expect(done).resolves.toMatchObject({ status: 'succeeded', version: 2 });
  });

  it('done() rejects with the server error, and on release', async () => {
    const { s, settles } = sub('task:b');
    s.retain();
    const h = new TaskHandle('b', s, () => undefined);
    s.start();
    const done = h.done();
    settles[0]?.({ ok: false, error: new TaskwireClientError('not_found', 'no such task') });
    await expect(done).rejects.toMatchObject({ code: 'not_found' });

    const other = sub('task:c');
    other.s.retain();
    const h2 = new TaskHandle('c', other.s, (x) => x.release());
    const pending = h2.done();
    h2.release();
    h2.release(); // idempotent
    await expect(pending).rejects.toMatchObject({ code: 'released' });
    expect(h2.state).toBe('unsubscribed');
  });
});

describe('TasksHandle', () => {
  it('keeps the newest version per task, newest update first, with a stable list between changes', () => {
    const { s, settles } = sub('user:alice');
    s.retain();
    const feed = new TasksHandle(() => undefined);
    feed.bind(s);
    s.start();
    settles[0]?.({ ok: true, result: { channel: 'user:alice', epoch: 'e', offset: 0, events: [] } });
    s.onEvent(event('user:alice', 1, task('a', 1)));
    s.onEvent(event('user:alice', 2, task('b', 2)));
    const list = feed.getSnapshot();
    expect(list.map((t) => t.id)).toEqual(['b', 'a']);
    feed.merge([task('a', 1, 'failed')]); // not newer: ignored
    expect(feed.getSnapshot()).toBe(list);
    s.onEvent(event('user:alice', 3, task('a', 3, 'succeeded')));
    expect(feed.get('a')?.status).toBe('succeeded');
    expect(feed.getSnapshot().map((t) => t.id)).toEqual(['a', 'b']);
  });
});
