/**
 * The fallback policy: the pure step function, then the connection running it with
 * fake transports, a fake health probe and fake timers (nothing sleeps).
 */
import type { ClientFrame } from '@taskwire/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, type StateEvent } from './connection.js';
import {
  FALLBACK_INITIAL,
  fallbackStep,
  type FallbackEffect,
  type FallbackInput,
  type FallbackState,
  type TransportName,
} from './fallback.js';
import type { TransportFactory, TransportHandlers } from './transport.js';

const CONFIG = { count: 3, failures: 3 };

/** Feed inputs in order; returns the final state and every effect. */
function run(inputs: FallbackInput[], from: FallbackState = FALLBACK_INITIAL) {
  let state = from;
  const effects: FallbackEffect[] = [];
  for (const input of inputs) {
    const t = fallbackStep(state, input, CONFIG);
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

/** One failed attempt on `index` whose probe says HTTP works (`ok`) or not. */
const failure = (index: number, ok = true): FallbackInput[] => [
  { type: 'failed', index },
  { type: 'probed', ok },
];

describe('fallbackStep (pure)', () => {
  it('moves to the next transport after 3 failures while HTTP works, and schedules the WebSocket retry', () => {
    const two = run([...failure(0), ...failure(0)]);
    expect(two.state).toMatchObject({ current: 0, failures: 2 });
    expect(two.effects).toEqual([{ type: 'probe' }, { type: 'probe' }]);
    const three = run(failure(0), two.state);
    expect(three.state).toEqual({ current: 1, failures: 0, probing: false, trialFrom: null });
    expect(three.effects).toEqual([
      { type: 'probe' },
      { type: 'use', index: 1, reconnect: false },
      { type: 'schedule-retry' },
    ]);
  });

  it('never switches while the server itself is down (the probe fails)', () => {
    const { state, effects } = run([...failure(0, false), ...failure(0, false), ...failure(0, false), ...failure(0)]);
    expect(state).toMatchObject({ current: 0, failures: 1 });
    expect(effects.filter((e) => e.type === 'use')).toEqual([]);
  });

  it('a failure while a probe is under way is not counted twice', () => {
    const { state, effects } = run([
      { type: 'failed', index: 0 },
      { type: 'failed', index: 0 },
      { type: 'probed', ok: true },
    ]);
    expect(state).toMatchObject({ current: 0, failures: 1, probing: false });
    expect(effects).toEqual([{ type: 'probe' }]);
  });

  it('a welcome resets the count and voids the probe under way', () => {
    const { state } = run([
      ...failure(0),
      ...failure(0),
      { type: 'failed', index: 0 },
      { type: 'welcome', index: 0 },
      { type: 'probed', ok: true },
    ]);
    expect(state).toEqual(FALLBACK_INITIAL);
  });

  it('SSE failing the same way → long-poll; the last transport never probes', () => {
    const onSse = run([...failure(0), ...failure(0), ...failure(0)]).state;
    const { state, effects } = run([...failure(1), ...failure(1), ...failure(1)], onSse);
    expect(state.current).toBe(2);
    expect(effects.at(-1)).toEqual({ type: 'use', index: 2, reconnect: false });
    expect(effects).not.toContainEqual({ type: 'schedule-retry' }); // already scheduled when leaving 0
    expect(run([{ type: 'failed', index: 2 }], state).effects).toEqual([]);
  });

  it('ignores results from a transport no longer in use', () => {
    const onSse = run([...failure(0), ...failure(0), ...failure(0)]).state;
    expect(
      run(
        [
          { type: 'welcome', index: 0 },
          { type: 'failed', index: 0 },
        ],
        onSse,
      ).state,
    ).toEqual(onSse);
  });

  it('retries the first transport once: back to the fallback on failure, stays on success', () => {
    const onLongPoll: FallbackState = { ...FALLBACK_INITIAL, current: 2 };
    const trial = run([{ type: 'retry-first' }], onLongPoll);
    expect(trial.state).toEqual({ current: 0, failures: 0, probing: false, trialFrom: 2 });
    expect(trial.effects).toEqual([{ type: 'use', index: 0, reconnect: true }]);
    // A second trigger while trying is ignored.
    expect(run([{ type: 'retry-first' }], trial.state).effects).toEqual([]);

    const failed = run([{ type: 'failed', index: 0 }], trial.state);
    expect(failed.state).toEqual({ ...FALLBACK_INITIAL, current: 2 });
    expect(failed.effects).toEqual([{ type: 'use', index: 2, reconnect: false }, { type: 'schedule-retry' }]);

    const welcomed = run([{ type: 'welcome', index: 0 }], trial.state);
    expect(welcomed.state).toEqual(FALLBACK_INITIAL);
    expect(welcomed.effects).toEqual([{ type: 'cancel-retry' }]);
  });

  it('with one transport it never probes or switches', () => {
    const t = fallbackStep(FALLBACK_INITIAL, { type: 'failed', index: 0 }, { count: 1, failures: 3 });
    expect(t.effects).toEqual([]);
  });
});

/* ---------- the connection running the policy ---------- */

class Fake {
  readonly sent: ClientFrame[] = [];
  closed = false;
  constructor(
    readonly name: TransportName,
    readonly handlers: TransportHandlers,
  ) {}
  send(frame: ClientFrame): void {
    this.sent.push(frame);
  }
  close(): void {
    this.closed = true;
  }
  welcome(): void {
    this.handlers.onOpen();
    this.handlers.onFrame({
      type: 'welcome',
      protocol: 1,
      connectionId: 'c',
      user: 'alice',
      heartbeatMs: 0,
      serverTime: Date.now(),
    });
  }
}

function setup(opts: { httpUp?: boolean; retryMs?: number } = {}) {
  const opened: Fake[] = [];
  const states: StateEvent[] = [];
  let httpUp = opts.httpUp ?? true;
  let probes = 0;
  const slot = (name: TransportName) => {
    const factory: TransportFactory = (_url, handlers) => {
      const t = new Fake(name, handlers);
      opened.push(t);
      return t;
    };
    return { name, factory };
  };
  const conn = new Connection(
    {
      url: 'ws://x/api/v1/ws',
      token: 't',
      transports: [slot('websocket'), slot('sse'), slot('longpoll')],
      fallback: {
        failures: 3,
        retryMs: opts.retryMs ?? 300_000,
        probe: () => {
          probes += 1;
          return Promise.resolve(httpUp);
        },
      },
      backoff: { minMs: 100, maxMs: 100, longMinMs: 100 },
      requestTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      random: () => 0,
    },
    { state: (e) => states.push(e), connected: () => undefined, frame: () => undefined, error: () => undefined },
  );
  const last = (): Fake => {
    const t = opened.at(-1);
    if (!t) throw new Error('nothing opened');
    return t;
  };
  /** The latest attempt fails like a refused upgrade (never opened, 1006); then the backoff passes. */
  const refuse = async (): Promise<void> => {
    last().handlers.onClose(1006, '');
    await vi.advanceTimersByTimeAsync(100);
  };
  return {
    conn,
    opened,
    states,
    last,
    refuse,
    setHttp: (up: boolean) => (httpUp = up),
    get probes() {
      return probes;
    },
  };
}

describe('Connection with the fallback policy (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('3 refused WebSocket attempts → SSE, with the transport in the state events and the getter', async () => {
    const f = setup();
    f.conn.connect();
    for (let i = 0; i < 3; i++) await f.refuse();
    expect(f.opened.map((t) => t.name)).toEqual(['websocket', 'websocket', 'websocket', 'sse']);
    expect(f.probes).toBe(3);
    expect(f.conn.transport).toBe('sse');
    f.last().welcome();
    expect(f.conn.state).toBe('connected');
    expect(f.states.at(-1)).toMatchObject({ newState: 'connected', transport: 'sse' });
    expect(f.last().sent[0]).toEqual({ op: 'auth', token: 't' });
  });

  it('SSE failing the same way → long-poll', async () => {
    const f = setup();
    f.conn.connect();
    for (let i = 0; i < 6; i++) await f.refuse();
    expect(f.opened.map((t) => t.name)).toEqual([...Array(3).fill('websocket'), ...Array(3).fill('sse'), 'longpoll']);
    f.last().welcome();
    expect(f.conn.transport).toBe('longpoll');
  });

  it('a server that is down (HTTP fails too) keeps the WebSocket', async () => {
    const f = setup({ httpUp: false });
    f.conn.connect();
    for (let i = 0; i < 10; i++) await f.refuse();
    expect(new Set(f.opened.map((t) => t.name))).toEqual(new Set(['websocket']));
    f.setHttp(true);
    f.last().welcome();
    expect(f.conn.transport).toBe('websocket');
  });

  it('a WebSocket that opens and welcomes resets the count', async () => {
    const f = setup();
    f.conn.connect();
    await f.refuse();
    await f.refuse();
    f.last().welcome();
    f.last().handlers.onClose(1012, 'restart'); // after welcome: not a failure
    await vi.advanceTimersByTimeAsync(100);
    await f.refuse();
    await f.refuse();
    expect(f.opened.every((t) => t.name === 'websocket')).toBe(true);
    await f.refuse();
    expect(f.last().name).toBe('sse');
  });

  it('server close codes (4000-4999) before welcome are not transport failures', async () => {
    const f = setup();
    f.conn.connect();
    for (let i = 0; i < 5; i++) {
      f.last().handlers.onOpen();
      f.last().handlers.onClose(4029, 'too many');
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(f.probes).toBe(0);
    expect(f.last().name).toBe('websocket');
  });

  it('no welcome in time counts as a failure', async () => {
    const f = setup();
    f.conn.connect();
    for (let i = 0; i < 3; i++) {
      f.last().handlers.onOpen(); // the upgrade went through, but nothing speaks the protocol
      await vi.advanceTimersByTimeAsync(10_000 + 100);
    }
    expect(f.last().name).toBe('sse');
  });

  it('retries the WebSocket after the interval; a failure goes straight back to the fallback', async () => {
    const f = setup({ retryMs: 60_000 });
    f.conn.connect();
    for (let i = 0; i < 3; i++) await f.refuse();
    const sse = f.last();
    sse.welcome();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(f.opened).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sse.closed).toBe(true); // the working SSE is replaced by a WebSocket trial
    expect(f.states.at(-1)).toMatchObject({ oldState: 'connected', newState: 'connecting', code: 3009 });
    await vi.advanceTimersByTimeAsync(100);
    expect(f.last().name).toBe('websocket');
    const probesBefore = f.probes;
    await f.refuse(); // one failure is enough to go back, without a probe
    expect(f.probes).toBe(probesBefore);
    expect(f.last().name).toBe('sse');
    f.last().welcome();
    // …and it tries again after the next interval.
    await vi.advanceTimersByTimeAsync(60_000 + 100);
    expect(f.last().name).toBe('websocket');
    f.last().welcome();
    expect(f.conn.transport).toBe('websocket');
    // Back on the WebSocket for good: no further trial.
    const count = f.opened.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(f.opened).toHaveLength(count);
  });

  it('coming back online while on a fallback tries the WebSocket at once', async () => {
    const f = setup();
    f.conn.connect();
    for (let i = 0; i < 3; i++) await f.refuse();
    f.last().welcome();
    f.conn.notify('online');
    await vi.advanceTimersByTimeAsync(100);
    expect(f.last().name).toBe('websocket');
  });

  it('disconnect() then connect() on a fallback: stays on it, and still tries the WebSocket later', async () => {
    const f = setup({ retryMs: 60_000 });
    f.conn.connect();
    for (let i = 0; i < 3; i++) await f.refuse();
    f.last().welcome();
    f.conn.disconnect();
    f.conn.connect();
    f.conn.connect(); // idempotent: does not push the retry back
    await vi.advanceTimersByTimeAsync(0);
    expect(f.last().name).toBe('sse');
    f.last().welcome();
    await vi.advanceTimersByTimeAsync(60_000 + 100);
    expect(f.last().name).toBe('websocket');
  });

  it('disconnect() clears the retry timer', async () => {
    const f = setup({ retryMs: 60_000 });
    f.conn.connect();
    for (let i = 0; i < 3; i++) await f.refuse();
    f.last().welcome();
    f.conn.disconnect();
    const count = f.opened.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(f.opened).toHaveLength(count);
    expect(vi.getTimerCount()).toBe(0);
  });
});
