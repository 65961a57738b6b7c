import { describe, expect, it } from 'vitest';
import { reduce, type Task, type TaskChange } from '@taskwire/protocol';
import { webhookEvents, webhookSource } from './messages.js';
import { outcomeOf } from './sender.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const make = (extra: Partial<Extract<TaskChange, { type: 'create' }>> = {}): Task =>
  reduce(null, { type: 'create', id: 'a', owner: 'ada', ...extra }, T0) as Task;
const step = (task: Task, change: TaskChange): Task => reduce(task, change, T0 + task.version) as Task;

describe('webhookEvents', () => {
  const running = step(make(), { type: 'update', progress: 5 });
  const asked = step(running, { type: 'request_approval', prompt: 'Ship?' });
  it.each<[string, Task, Task, 'change' | 'children', string[]]>([
    ['progress only', make(), running, 'change', []],
    ['approval asked', running, asked, 'change', ['task.approval_requested']],
    [
      'approved',
      asked,
      step(asked, { type: 'decide', decision: 'approve', by: 'ada' }),
      'change',
      ['task.approval_decided'],
    ],
    [
      'rejected',
      asked,
      step(asked, { type: 'decide', decision: 'reject', by: 'ada' }),
      'change',
      ['task.approval_decided', 'task.failed'],
    ],
    ['stalled', running, step(running, { type: 'stall' }), 'change', ['task.stalled']],
    ['stalled again running: nothing', step(running, { type: 'stall' }), running, 'change', []],
    ['succeeded', running, step(running, { type: 'update', status: 'succeeded' }), 'change', ['task.succeeded']],
    ['failed', running, step(running, { type: 'update', status: 'failed', error: 'x' }), 'change', ['task.failed']],
    ['cancelled while asking', asked, step(asked, { type: 'cancel' }), 'change', ['task.cancelled']],
  ])('%s', (_name, prev, next, cause, types) => {
    expect(webhookEvents(prev, next, cause)).toEqual(types);
  });

  it('a batch ending by its children also completes it; one ended by its worker does not', () => {
    const parent = make({ batch: { completeWhen: 'children' } });
    const child = (status: Task['status']): Task => ({ ...make({ id: 'c', parentId: 'a' }), status });
    const ended = step(parent, { type: 'children', children: [child('succeeded')] });
    expect(webhookEvents(parent, ended, 'children')).toEqual(['task.succeeded', 'batch.completed']);
    const own = make({ batch: { completeWhen: 'self' } });
    const done = step(step(own, { type: 'update', stage: 'go' }), { type: 'update', status: 'succeeded' });
    expect(webhookEvents(own, done, 'change')).toEqual(['task.succeeded']);
  });

  it('one message per event type and endpoint, only for the chosen types', () => {
    const source = webhookSource(
      {
        endpoints: ['http://a/h', 'http://b/h'],
        key: Buffer.alloc(32),
        events: new Set(['task.failed']),
        schedule: [],
        timeoutMs: 1000,
      },
      () => 'msg_x',
    );
    expect(source(running, step(running, { type: 'update', status: 'succeeded' }), 'change')).toEqual([]);
    const failed = step(running, { type: 'update', status: 'failed', error: 'x' });
    const out = source(running, failed, 'change');
    expect(out.map((m) => m.endpoint)).toEqual(['http://a/h', 'http://b/h']);
    expect(JSON.parse(out[0]?.body ?? '')).toEqual({
      type: 'task.failed',
      timestamp: failed.updatedAt,
      data: { task: failed },
    });
  });
});

describe('outcomeOf', () => {
  const schedule = [1000, 60_000];
  const at = T0;
  it.each<[string, number | null, number, number | null, string, number | null]>([
    ['2xx delivers', 204, 1, null, 'delivered', null],
    ['500 retries after the first delay', 500, 1, null, 'retry', at + 1000],
    ['no answer retries', null, 2, null, 'retry', at + 60_000],
    ['after the last delay: failed', 500, 3, null, 'failed', null],
    ['410 fails at once', 410, 1, null, 'failed', null],
    ['a longer Retry-After on 503 wins', 503, 1, 30, 'retry', at + 30_000],
    ['a shorter Retry-After does not', 429, 2, 1, 'retry', at + 60_000],
    ['Retry-After on a 500 is ignored', 500, 1, 30, 'retry', at + 1000],
    ['a 3xx is a failed attempt', 302, 1, null, 'retry', at + 1000],
  ])('%s', (_name, status, attemptNo, retryAfter, kind, nextAt) => {
    const out = outcomeOf(schedule, attemptNo, { at, status }, retryAfter, () => 0);
    expect(out.kind).toBe(kind);
    expect(out.kind === 'retry' ? out.nextAt : null).toBe(nextAt);
  });

  it('adds up to 10 % jitter', () => {
    const out = outcomeOf(schedule, 1, { at, status: 500 }, null, () => 0.999);
    expect(out.kind === 'retry' && out.nextAt - at).toBeGreaterThan(1090);
    expect(out.kind === 'retry' && out.nextAt - at).toBeLessThan(1100);
  });
});
