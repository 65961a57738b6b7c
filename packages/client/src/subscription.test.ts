import type { EventFrame, SubscribeResult, Task } from '@taskwire/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskwireClientError } from './errors.js';
import type { Settle } from './requests.js';
import { Subscription, type ChannelNotice } from './subscription.js';
import { isNewer } from './tasks.js';

type Sent = { frame: { op: string; channel: string; since?: unknown; history?: number }; settle: Settle<unknown> };

function host(connected = true) {
  const sent: Sent[] = [];
  const errors: TaskwireClientError[] = [];
  return {
    sent,
    errors,
    connected,
    isConnected(): boolean {
      return this.connected;
    },
    send<T>(frame: Sent['frame'], settle: Settle<T>): void {
      sent.push({ frame, settle: settle as Settle<unknown> });
    },
    error(e: TaskwireClientError): void {
      errors.push(e);
    },
  };
}

const task = (version: number, status: Task['status'] = 'running'): Task => ({
  id: 't',
  owner: 'alice',
  title: null,
  status,
  progress: version,
  stage: null,
  message: null,
  result: null,
  error: null,
  approval: null,
  meta: {},
  stallTimeoutMs: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  parentId: null,
  batch: null,
  children: null,
  tags: [],
  streams: {},
  version,
});

const ev = (
  offset: number,
  epoch = 'e1',
  data: unknown = { kind: 'task.updated', task: task(offset) },
): EventFrame => ({
  type: 'event',
  channel: 'task:t',
  epoch,
  offset,
  time: 0,
  data,
});

function subscribed(result: Partial<SubscribeResult> = {}) {
  const h = host();
  const sub = new Subscription('task:t', h);
  const notices: ChannelNotice[] = [];
  sub.listeners.add((n) => notices.push(n));
  sub.retain();
  sub.start();
  h.sent[0]?.settle({
    ok: true,
    result: { channel: 'task:t', epoch: 'e1', offset: 3, events: [], snapshot: task(3), ...result },
  });
  const offsets = (): number[] => notices.flatMap((n) => (n.type === 'event' ? [n.event.offset] : []));
  return { h, sub, notices, offsets };
}

describe('Subscription', () => {
  it('drops events at or before the last seen offset of the same epoch', () => {
    const { sub, offsets } = subscribed();
    for (const o of [2, 3, 4, 4, 3, 5]) sub.onEvent(ev(o));
    expect(offsets()).toEqual([4, 5]);
    expect(sub.position).toEqual({ epoch: 'e1', offset: 5 });
  });

  it('delivers any arrival order of duplicates exactly once, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 80 }), (replays) => {
        const { sub, offsets } = subscribed({ offset: 0, snapshot: null });
        // Live delivery is in order; replays are repeats of what was already delivered.
        let next = 1;
        for (const r of replays) {
          if (r >= next) sub.onEvent(ev(next++));
          else sub.onEvent(ev(r));
        }
        expect(offsets()).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
      }),
    );
  });

  it('resubscribes from its position on a gap instead of skipping', () => {
    const { h, sub, offsets } = subscribed();
    sub.onEvent(ev(4));
    sub.onEvent(ev(7));
    expect(offsets()).toEqual([4]);
    expect(h.sent.slice(1).map((s) => s.frame)).toEqual([
      { op: 'unsubscribe', channel: 'task:t' },
      { op: 'subscribe', channel: 'task:t', since: { epoch: 'e1', offset: 4 } },
    ]);
  });

  it('resubscribes from its position when a live event comes from another epoch', () => {
    const { h, sub, offsets } = subscribed();
    sub.onEvent(ev(4, 'e2'));
    expect(offsets()).toEqual([]);
    expect(h.sent.at(-1)?.frame).toEqual({ op: 'subscribe', channel: 'task:t', since: { epoch: 'e1', offset: 3 } });
  });

  it('resubscribes with since after a reconnect and replays the missed events', () => {
    const { h, sub, offsets } = subscribed();
    sub.onEvent(ev(4));
    sub.suspend();
    expect(sub.state).toBe('subscribing');
    sub.start();
    const last = h.sent.at(-1);
    expect(last?.frame).toEqual({ op: 'subscribe', channel: 'task:t', since: { epoch: 'e1', offset: 4 } });
    last?.settle({
      ok: true,
      result: { channel: 'task:t', epoch: 'e1', offset: 6, recovered: true, events: [ev(5), ev(6)] },
    });
    sub.onEvent(ev(6));
    sub.onEvent(ev(7));
    expect(offsets()).toEqual([4, 5, 6, 7]);
  });

  it('recovered: false takes the snapshot and emits resync', () => {
    const { h, sub, notices } = subscribed();
    sub.suspend();
    sub.start();
    h.sent.at(-1)?.settle({
      ok: true,
      result: { channel: 'task:t', epoch: 'e2', offset: 40, recovered: false, events: [], snapshot: task(40) },
    });
    expect(notices.some((n) => n.type === 'resync')).toBe(true);
    expect(sub.snapshot?.version).toBe(40);
    expect(sub.position).toEqual({ epoch: 'e2', offset: 40 });
    sub.onEvent(ev(41, 'e2'));
    expect(sub.snapshot?.version).toBe(41);
  });

  it('never replaces a snapshot with one whose version is not newer', () => {
    const { sub } = subscribed({ snapshot: task(10) });
    sub.onEvent(ev(4, 'e1', { kind: 'task.updated', task: task(9) }));
    expect(sub.snapshot?.version).toBe(10);
    sub.onEvent(ev(5, 'e1', { kind: 'task.updated', task: task(10, 'failed') }));
    expect(sub.snapshot?.status).toBe('running');
    sub.onEvent(ev(6, 'e1', { kind: 'task.updated', task: task(11, 'succeeded') }));
    expect(sub.snapshot?.status).toBe('succeeded');
  });

  it('isNewer is the version rule for any pair', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (a, b) => {
        expect(isNewer(task(a), task(b))).toBe(a > b);
      }),
    );
    expect(isNewer(task(1), null)).toBe(true);
  });

  it('honours unsubscribed frames: resubscribe true → subscribe with since; false → unsubscribed with the error', () => {
    const { h, sub } = subscribed();
    sub.onUnsubscribed({
      type: 'unsubscribed',
      channel: 'task:t',
      code: 'internal',
      message: 'gap',
      resubscribe: true,
    });
    expect(h.sent.at(-1)?.frame).toEqual({ op: 'subscribe', channel: 'task:t', since: { epoch: 'e1', offset: 3 } });
    sub.onUnsubscribed({
      type: 'unsubscribed',
      channel: 'task:t',
      code: 'forbidden',
      message: 'revoked',
      resubscribe: false,
    });
    expect(sub.state).toBe('unsubscribed');
    expect(sub.error?.code).toBe('forbidden');
    expect(h.errors).toHaveLength(1);
  });

  it('is ref-counted: unsubscribes only when the last reference goes', () => {
    const { h, sub } = subscribed();
    sub.retain();
    expect(sub.release()).toBe(false);
    expect(h.sent).toHaveLength(1);
    expect(sub.release()).toBe(true);
    expect(h.sent.at(-1)?.frame).toEqual({ op: 'unsubscribe', channel: 'task:t' });
    expect(sub.state).toBe('unsubscribed');
  });

  it('does not send a second subscribe while one is under way', () => {
    const h = host();
    const sub = new Subscription('task:t', h);
    sub.retain();
    sub.start();
    sub.start();
    sub.retain();
    sub.start(true);
    expect(h.sent).toHaveLength(1);
  });

  it('a subscribe error ends the subscription with the server code; a lost connection does not', () => {
    const h = host();
    const sub = new Subscription('task:t', h);
    sub.retain();
    sub.start();
    h.sent[0]?.settle({
      ok: false,
      error: Object.assign(new Error('x'), { code: 'disconnected' }) as TaskwireClientError,
    });
    expect(sub.state).toBe('subscribing');
    sub.suspend();
    sub.start();
    h.sent[1]?.settle({
      ok: false,
      error: Object.assign(new Error('nope'), { code: 'not_found' }) as TaskwireClientError,
    });
    expect(sub.state).toBe('unsubscribed');
    expect(sub.error?.code).toBe('not_found');
  });
});
