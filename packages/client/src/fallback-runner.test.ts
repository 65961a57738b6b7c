/**
 * The fallback policy run for the connection (fallback-runner.ts), with fake
 * transports, a fake health probe and fake timers (nothing sleeps).
 */
import type { ClientFrame } from '@taskwire/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, type StateEvent } from './connection.js';
import type { TransportName } from './fallback.js';
import type { TransportFactory, TransportHandlers } from './transport.js';

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
