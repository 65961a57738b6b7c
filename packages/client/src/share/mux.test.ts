import type { EventFrame, Position, SubscribeResult, Task } from '@taskwire/protocol';
import { describe, expect, it } from 'vitest';
import { BUFFER_EVENTS, createEntry, serve, type Entry, type TabRequest } from './entry.js';
import { muxStep, type MuxEffect, type MuxInput } from './mux.js';

const task = (version: number): Task => ({
  id: 't',
  owner: 'alice',
  title: null,
  status: 'running',
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

const ev = (offset: number, channel = 'task:t', epoch = 'e1'): EventFrame => ({
  type: 'event',
  channel,
  epoch,
  offset,
  time: 0,
  data: channel.startsWith('task:') ? { kind: 'task.updated', task: task(offset) } : { n: offset },
});
const evs = (from: number, to: number, channel = 'task:t'): EventFrame[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ev(from + i, channel));
const at = (offset: number, epoch = 'e1'): Position => ({ epoch, offset });

/** Runs inputs one after the other; `effects` holds those of the last run. */
class Harness {
  entry: Entry | null;
  effects: MuxEffect[] = [];
  /** The seq of the last subscribe effect. */
  seq = 0;
  constructor(channel = 'task:t') {
    this.entry = createEntry(channel);
  }
  run(...inputs: MuxInput[]): MuxEffect[] {
    this.effects = [];
    for (const input of inputs) {
      if (!this.entry) throw new Error('the entry ended');
      const step = muxStep(this.entry, input);
      this.entry = step.entry;
      this.effects.push(...step.effects);
      for (const e of step.effects) if (e.type === 'subscribe') this.seq = e.seq;
    }
    return this.effects;
  }
  want(req: Partial<TabRequest> & { tab: string; id: number }): MuxEffect[] {
    return this.run({ type: 'want', req: { history: 0, ...req } });
  }
  answer(result: Partial<SubscribeResult> & { offset: number }, seq = this.seq): MuxEffect[] {
    return this.run({
      type: 'reply',
      seq,
      outcome: { ok: true, result: { channel: this.entry?.channel ?? '', epoch: 'e1', events: [], ...result } },
    });
  }
  replies(): { tab: string; id: number; result?: SubscribeResult; code?: string }[] {
    return this.effects.flatMap((e) =>
      e.type === 'reply'
        ? [{ tab: e.tab, id: e.id, ...(e.outcome.ok ? { result: e.outcome.result } : { code: e.outcome.error.code }) }]
        : [],
    );
  }
  types(): string[] {
    return this.effects.map((e) => e.type);
  }
  events(): number[] {
    return this.effects.flatMap((e) => (e.type === 'event' ? [e.event.offset] : []));
  }
}

/** A channel subscribed for tab A at offset 10 with a snapshot at version 10. */
function subscribed(channel = 'task:t'): Harness {
  const h = new Harness(channel);
  h.want({ tab: 'A', id: 1 });
  h.answer({ offset: 10, ...(channel.startsWith('task:') ? { snapshot: task(10) } : {}) });
  return h;
}

describe('one server subscription for many tabs (ref counting)', () => {
  it('subscribes once for the first tab and answers the others from the cache', () => {
    const h = new Harness();
    expect(h.want({ tab: 'A', id: 1 })).toEqual([{ type: 'subscribe', seq: 1, history: 0 }]);
    h.want({ tab: 'B', id: 7 }); // waits for the reply in flight
    expect(h.effects).toEqual([]);
    h.answer({ offset: 10, snapshot: task(10) });
    expect(h.replies()).toEqual([
      { tab: 'A', id: 1, result: { channel: 'task:t', epoch: 'e1', offset: 10, events: [], snapshot: task(10) } },
      { tab: 'B', id: 7, result: { channel: 'task:t', epoch: 'e1', offset: 10, events: [], snapshot: task(10) } },
    ]);
    expect(h.types()).not.toContain('subscribe');
    h.want({ tab: 'C', id: 2 });
    expect(h.types()).toEqual(['reply']);
    expect(h.entry?.live).toEqual(['A', 'B', 'C']);
  });

  it('ends the server subscription only when the last tab drops it', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 2 });
    expect(h.run({ type: 'drop', tab: 'A' })).toEqual([]);
    expect(h.run({ type: 'drop', tab: 'B' })).toEqual([{ type: 'unsubscribe' }, { type: 'end' }]);
    expect(h.entry).toBeNull();
  });

  it('a tab dropping while its request waits gets that request answered disconnected, and nothing reaches the server', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1 });
    expect(h.run({ type: 'drop', tab: 'A' })).toEqual([
      {
        type: 'reply',
        tab: 'A',
        id: 1,
        outcome: { ok: false, error: { code: 'disconnected', message: 'superseded' } },
      },
      { type: 'unsubscribe' },
      { type: 'end' },
    ]);
  });

  it('forwards each server event once, in order, and drops duplicates and stale ones', () => {
    const h = subscribed();
    h.run({ type: 'event', event: ev(11) }, { type: 'event', event: ev(11) }, { type: 'event', event: ev(12) });
    expect(h.events()).toEqual([11, 12]);
    h.run({ type: 'event', event: ev(9) });
    expect(h.effects).toEqual([]);
    expect(h.entry?.snapshot?.version).toBe(12);
  });

  it('a second request from the same tab supersedes its first', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1 });
    h.want({ tab: 'A', id: 2 });
    expect(h.replies()).toEqual([{ tab: 'A', id: 1, code: 'disconnected' }]);
    h.answer({ offset: 3, snapshot: task(3) }, 1);
    expect(h.replies().map((r) => r.id)).toEqual([2]);
  });
});

describe('answers from the cache are what the server would say', () => {
  it('since inside the buffer: recovered with exactly the missed events', () => {
    const h = subscribed();
    h.run(...evs(11, 15).map((event) => ({ type: 'event' as const, event })));
    h.want({ tab: 'B', id: 1, since: at(12), snapshot: task(12) });
    expect(h.replies()[0]?.result).toEqual({
      channel: 'task:t',
      epoch: 'e1',
      offset: 15,
      recovered: true,
      events: evs(13, 15),
    });
  });

  it('since ahead of the leader: recovered, nothing to replay', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 1, since: at(20) });
    expect(h.replies()[0]?.result).toMatchObject({ recovered: true, events: [], offset: 10 });
  });

  it('since in another epoch: recovered false with the snapshot', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 1, since: at(3, 'old') });
    expect(h.replies()[0]?.result).toEqual({
      channel: 'task:t',
      epoch: 'e1',
      offset: 10,
      recovered: false,
      events: [],
      snapshot: task(10),
    });
  });

  it('fresh with history: the latest events from the buffer, when it holds enough', () => {
    const h = new Harness('room:r');
    h.want({ tab: 'A', id: 1, history: 3 });
    h.answer({ offset: 5, events: evs(1, 5, 'room:r') }); // asked 3, the server gave 5? keep what joins
    h.want({ tab: 'B', id: 2, history: 2 });
    expect(h.replies()[0]?.result?.events.map((e) => e.offset)).toEqual([4, 5]);
    // More than the buffer holds, and the buffer is not the whole history: ask the server.
    h.want({ tab: 'C', id: 3, history: 50 });
    expect(h.types()).toEqual(['unsubscribe', 'subscribe']);
  });

  it('a fresh reply with fewer events than asked holds the whole history', () => {
    const h = new Harness('room:r');
    h.want({ tab: 'A', id: 1, history: 100 });
    h.answer({ offset: 2, events: evs(1, 2, 'room:r') });
    h.want({ tab: 'B', id: 2, history: 100 });
    expect(h.replies()[0]?.result?.events.map((e) => e.offset)).toEqual([1, 2]);
  });

  it('serve() refuses a fresh task request without a known snapshot', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1, since: at(4) }); // no snapshot seed
    h.answer({
      offset: 6,
      recovered: true,
      events: [ev(5), { ...ev(6), data: { kind: 'task.log', taskId: 't', lines: [] } }],
    });
    expect(h.entry && serve(h.entry, { tab: 'B', id: 1, history: 0 })).toMatchObject({ snapshot: task(5) });
    const bare = new Harness();
    bare.want({ tab: 'A', id: 1, since: at(4) });
    bare.answer({ offset: 4, recovered: true, events: [] });
    expect(bare.entry && serve(bare.entry, { tab: 'B', id: 1, history: 0 })).toBeUndefined();
  });

  it('the snapshot seeded by a tab follows the version rule', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1, since: at(4), snapshot: task(4) });
    h.want({ tab: 'B', id: 2, since: at(5), snapshot: task(3) }); // older: ignored
    expect(h.entry?.snapshot?.version).toBe(4);
    h.want({ tab: 'C', id: 3, since: at(4), snapshot: null }); // null never replaces a task
    expect(h.entry?.snapshot?.version).toBe(4);
  });
});

describe('rounds: what the cache cannot answer goes to the server', () => {
  it('since before the buffer: one round from the oldest since, and every waiting tab is answered', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 1, since: at(4) });
    expect(h.effects).toEqual([{ type: 'unsubscribe' }, { type: 'subscribe', seq: 2, since: at(4), history: 0 }]);
    h.want({ tab: 'C', id: 2, since: at(6) }); // waits for the round
    h.answer({ offset: 12, recovered: true, events: evs(5, 12) });
    const replies = h.replies();
    expect(replies.map((r) => [r.tab, r.result?.events.map((e) => e.offset)])).toEqual([
      ['B', evs(5, 12).map((e) => e.offset)],
      ['C', evs(7, 12).map((e) => e.offset)],
    ]);
    // A, live at 10 before the round, gets what followed its position.
    expect(h.events()).toEqual([11, 12]);
    expect(h.entry?.live).toEqual(['A', 'B', 'C']);
  });

  it('events still arriving during a round continue the live tabs, and the replay joins them', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 1, since: at(2) });
    h.run({ type: 'event', event: ev(11) }); // from the old subscription, before the unsubscribe took effect
    expect(h.events()).toEqual([11]);
    h.answer({ offset: 13, recovered: true, events: evs(3, 13) });
    expect(h.events()).toEqual([12, 13]);
  });

  it('a recovered:false answer settles its requests; the live tabs are told to resubscribe when the position moved', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 1, since: at(1) });
    h.answer({ offset: 30, recovered: false, snapshot: task(30) });
    expect(h.replies()[0]?.result).toMatchObject({ recovered: false, offset: 30 });
    expect(h.effects).toContainEqual({
      type: 'unsubscribed',
      tabs: ['A'],
      frame: expect.objectContaining({ resubscribe: true, channel: 'task:t' }),
    });
    expect(h.entry?.live).toEqual(['B']);
    // A asks again from its position: before the (empty) buffer, so another round.
    h.want({ tab: 'A', id: 5, since: at(10) });
    expect(h.types()).toEqual(['unsubscribe', 'subscribe']);
    h.answer({ offset: 30, recovered: true, events: evs(11, 30) });
    expect(h.replies()).toEqual([expect.objectContaining({ tab: 'A', id: 5 })]);
    expect(h.events()).toEqual([]); // B is at 30 already
  });

  it('a fresh round for a task whose snapshot is unknown', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1, since: at(4) });
    h.answer({ offset: 4, recovered: true, events: [] });
    h.want({ tab: 'B', id: 2 });
    expect(h.effects).toEqual([{ type: 'unsubscribe' }, { type: 'subscribe', seq: 2, history: 0 }]);
    h.answer({ offset: 4, snapshot: task(4) });
    expect(h.replies()).toEqual([{ tab: 'B', id: 2, result: expect.objectContaining({ snapshot: task(4) }) }]);
    expect(h.types()).not.toContain('unsubscribed'); // A's position is the reply's: nothing to repair
  });

  it('each fresh request of a round gets the history it asked for', () => {
    const h = new Harness('room:r');
    h.want({ tab: 'A', id: 1, history: 5 });
    h.want({ tab: 'B', id: 2, history: 2 });
    expect(h.effects).toEqual([]); // waits for the first round
    h.answer({ offset: 5, events: evs(1, 5, 'room:r') });
    expect(h.replies().map((r) => r.result?.events.length)).toEqual([5, 2]);
  });

  it('a gap in the server stream resyncs from the cache position; the live tabs continue', () => {
    const h = subscribed();
    h.run({ type: 'event', event: ev(13) });
    expect(h.effects).toEqual([{ type: 'unsubscribe' }, { type: 'subscribe', seq: 2, since: at(10), history: 0 }]);
    h.answer({ offset: 13, recovered: true, events: evs(11, 13) });
    expect(h.events()).toEqual([11, 12, 13]);
  });

  it('unsubscribed with resubscribe from the server: a resync for the live tabs', () => {
    const h = subscribed();
    h.run({
      type: 'unsubscribed',
      frame: { type: 'unsubscribed', channel: 'task:t', code: 'unavailable', message: 'x', resubscribe: true },
    });
    expect(h.types()).toEqual(['unsubscribe', 'subscribe']);
  });

  it('a refusal reaches every waiting tab and ends the entry', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1 });
    h.want({ tab: 'B', id: 2 });
    h.run({ type: 'reply', seq: 1, outcome: { ok: false, error: { code: 'not_found', message: 'no task' } } });
    expect(h.replies()).toEqual([
      { tab: 'A', id: 1, code: 'not_found' },
      { tab: 'B', id: 2, code: 'not_found' },
    ]);
    expect(h.entry).toBeNull();
  });

  it('unsubscribed without resubscribe ends it for the live tabs, and a round in flight is unsubscribed', () => {
    const h = subscribed();
    h.want({ tab: 'B', id: 2, since: at(1) });
    h.run({
      type: 'unsubscribed',
      frame: { type: 'unsubscribed', channel: 'task:t', code: 'forbidden', message: 'no', resubscribe: false },
    });
    expect(h.types()).toEqual(['reply', 'unsubscribed', 'unsubscribe', 'end']);
    expect(h.entry).toBeNull();
  });

  it('a lost connection leaves the entry idle; replies from an old round are ignored', () => {
    const h = new Harness();
    h.want({ tab: 'A', id: 1 });
    h.run({ type: 'reply', seq: 1, outcome: { ok: false, error: { code: 'disconnected', message: 'gone' } } });
    expect(h.entry?.phase).toBe('idle');
    expect(h.answer({ offset: 1 }, 1)).toEqual([]);
  });
});

describe('the buffer', () => {
  it('keeps at most its capacity, and a since before it goes to the server', () => {
    const h = subscribed('room:r');
    h.run(...evs(11, 10 + BUFFER_EVENTS + 5, 'room:r').map((event) => ({ type: 'event' as const, event })));
    expect(h.entry?.buffer.length).toBe(BUFFER_EVENTS);
    expect(h.entry?.from).toBe(15);
    h.want({ tab: 'B', id: 1, since: at(15) });
    expect(h.types()).toEqual(['reply']);
    h.want({ tab: 'C', id: 1, since: at(14) });
    expect(h.types()).toEqual(['unsubscribe', 'subscribe']);
  });

  it('grows to the largest history asked', () => {
    const h = new Harness('room:r');
    h.want({ tab: 'A', id: 1, history: 300 });
    expect(h.entry?.capacity).toBe(300);
  });
});
