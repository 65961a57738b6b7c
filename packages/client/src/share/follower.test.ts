/** The follower's liveness watch and request forwarding, with fake timers and a recording host. */
import type { WelcomeFrame } from '@taskwire/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionState } from '../machine.js';
import { Follower, PING_AFTER_MS, SILENT_AFTER_MS } from './follower.js';
import type { Envelope, FollowerMessage, LeaderMessage } from './protocol.js';

const welcome: WelcomeFrame = {
  type: 'welcome',
  protocol: 1,
  connectionId: 'c',
  user: 'alice',
  heartbeatMs: 25_000,
  serverTime: 0,
};
const L = { id: 'L', term: 5 };
const from = <M extends LeaderMessage>(msg: M): Envelope<LeaderMessage> => ({ ...msg, v: 1, from: 'L', term: 5 });

function setup() {
  const posted: FollowerMessage[] = [];
  const states: ConnectionState[] = [];
  const connected: WelcomeFrame[] = [];
  const frames: unknown[] = [];
  let silent = 0;
  const follower = new Follower(
    'me',
    {
      post: (m) => posted.push(m),
      hooks: {
        state: () => undefined,
        connected: (w) => connected.push(w),
        frame: (fr) => frames.push(fr),
        error: () => undefined,
      },
      mirror: (state) => states.push(state),
      silent: () => (silent += 1),
      token: () => Promise.resolve('t'),
    },
    1_000,
  );
  return { follower, posted, states, connected, frames, silent: () => silent };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('follower liveness', () => {
  it('pings a quiet leader, and reports it silent once it has said nothing for SILENT_AFTER_MS', () => {
    const f = setup();
    f.follower.follow(L);
    vi.advanceTimersByTime(PING_AFTER_MS + 100);
    expect(f.posted).toContainEqual({ t: 'ping', to: 'L' });
    expect(f.silent()).toBe(0);
    vi.advanceTimersByTime(SILENT_AFTER_MS - PING_AFTER_MS);
    expect(f.silent()).toBe(1);
    f.follower.stop();
  });

  it('any message from the leader keeps it alive', () => {
    const f = setup();
    f.follower.follow(L);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(SILENT_AFTER_MS / 2);
      f.follower.onMessage(from({ t: 'pong' }));
    }
    expect(f.silent()).toBe(0);
    f.follower.stop();
  });

  it('a stall of its own (a tick that comes late) does not count as the leader’s silence', () => {
    const f = setup();
    f.follower.follow(L);
    // The tab's thread is stuck for 3 s: timers cannot run, then the first tick is very late.
    vi.setSystemTime(Date.now() + 3_000);
    vi.advanceTimersByTime(100);
    expect(f.silent()).toBe(0);
    f.follower.stop();
  });

  it('watches nothing while idle (this tab leads)', () => {
    const f = setup();
    f.follower.follow(L);
    f.follower.idle();
    vi.advanceTimersByTime(10 * SILENT_AFTER_MS);
    expect(f.silent()).toBe(0);
    expect(f.posted.filter((m) => m.t === 'ping')).toEqual([]);
    f.follower.stop();
  });
});

describe('follower requests', () => {
  it('go to the leader while it is connected, and fail disconnected when the leader changes', () => {
    const f = setup();
    f.follower.follow(L);
    const outcomes: unknown[] = [];
    f.follower.send({ op: 'publish', channel: 'room:r', data: 1 }, (o) => outcomes.push(o), undefined);
    expect(outcomes).toEqual([expect.objectContaining({ ok: false })]); // not connected yet
    f.follower.onMessage(
      from({ t: 'state', state: 'connected', code: 0, reason: '', transport: 'websocket', welcome }),
    );
    expect(f.states.at(-1)).toBe('connected');
    expect(f.connected).toEqual([welcome]);
    f.follower.send({ op: 'subscribe', channel: 'task:t' }, (o) => outcomes.push(o), null);
    expect(f.posted.at(-1)).toEqual({
      t: 'req',
      to: 'L',
      id: 1,
      frame: { op: 'subscribe', channel: 'task:t' },
      snapshot: null,
    });
    f.follower.onMessage(from({ t: 'reply', to: 'me', id: 1, outcome: { ok: true, result: { x: 1 } } }));
    expect(outcomes.at(-1)).toEqual({ ok: true, result: { x: 1 } });
    f.follower.send({ op: 'unsubscribe', channel: 'task:t' }, (o) => outcomes.push(o), undefined);
    f.follower.follow({ id: 'B', term: 6 });
    expect(outcomes.at(-1)).toMatchObject({ ok: false, error: { code: 'disconnected' } });
    expect(f.states.at(-1)).toBe('connecting');
    f.follower.stop();
  });

  it('times a request out after requestTimeoutMs', () => {
    const f = setup();
    f.follower.follow(L);
    f.follower.onMessage(
      from({ t: 'state', state: 'connected', code: 0, reason: '', transport: 'websocket', welcome }),
    );
    const outcomes: unknown[] = [];
    f.follower.send({ op: 'publish', channel: 'room:r', data: 1 }, (o) => outcomes.push(o), undefined);
    vi.advanceTimersByTime(1_000);
    expect(outcomes).toEqual([
      expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'timeout' }) }),
    ]);
    f.follower.stop();
  });

  it('a repeated connected state does not resubscribe twice; frames for other tabs are not applied', () => {
    const f = setup();
    f.follower.follow(L);
    const state = from({ t: 'state', state: 'connected', code: 0, reason: '', transport: 'websocket', welcome });
    f.follower.onMessage(state);
    f.follower.onMessage(state);
    expect(f.connected.length).toBe(1);
    const frame = {
      type: 'unsubscribed',
      channel: 'task:t',
      code: 'unavailable',
      message: 'x',
      resubscribe: true,
    } as const;
    f.follower.onMessage(from({ t: 'frame', frame, tabs: ['other'] }));
    expect(f.frames).toEqual([]);
    f.follower.onMessage(from({ t: 'frame', frame, tabs: ['other', 'me'] }));
    expect(f.frames).toEqual([frame]);
    f.follower.stop();
  });
});
