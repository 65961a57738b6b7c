/** The connection driven through a fake transport with fake timers: nothing sleeps. */
import type { ClientFrame, ServerFrame } from '@taskwire/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, type RetryEvent, type StateEvent } from './connection.js';
import type { TransportFactory, TransportHandlers } from './transport.js';

class FakeTransport {
  readonly sent: ClientFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  constructor(readonly handlers: TransportHandlers) {}
  send(frame: ClientFrame): void {
    this.sent.push(frame);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  /** Server side: open, then answer auth with welcome. */
  accept(heartbeatMs = 25_000, user = 'alice'): void {
    this.handlers.onOpen();
    this.frame({ type: 'welcome', protocol: 1, connectionId: 'c1', user, heartbeatMs, serverTime: Date.now() });
  }
  frame(frame: ServerFrame): void {
    this.handlers.onFrame(frame);
  }
}

function jwt(exp: number): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', exp })}.sig`;
}

function setup(opts: { token?: string; getToken?: () => Promise<string> | string } = { token: 't' }) {
  const transports: FakeTransport[] = [];
  const states: StateEvent[] = [];
  const retries: RetryEvent[] = [];
  const factory: TransportFactory = (_url, handlers) => {
    const t = new FakeTransport(handlers);
    transports.push(t);
    return t;
  };
  const conn = new Connection(
    {
      url: 'ws://x/api/v1/ws',
      ...opts,
      transports: [{ name: 'websocket', factory }],
      backoff: { minMs: 500, maxMs: 30_000, longMinMs: 5_000 },
      requestTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      random: () => 1, // the top of every jitter range: delays are exact
    },
    {
      state: (e) => states.push(e),
      connected: () => undefined,
      frame: () => undefined,
      error: () => undefined,
      retry: (e) => retries.push(e),
    },
  );
  const last = (): FakeTransport => {
    const t = transports.at(-1);
    if (!t) throw new Error('no transport');
    return t;
  };
  return { conn, transports, states, retries, last };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Connection', () => {
  it('authenticates with a first auth frame, never in the URL', () => {
    const { conn, last } = setup({ token: 'secret' });
    conn.connect();
    last().accept();
    expect(last().sent[0]).toEqual({ op: 'auth', token: 'secret' });
    expect(conn.state).toBe('connected');
  });

  it('backs off 0.5-1 s, then 0.5-2 s, and never opens a socket sooner', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().handlers.onClose(1006, '');
    await vi.advanceTimersByTimeAsync(999);
    expect(transports).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports).toHaveLength(2);
    last().handlers.onClose(1006, '');
    await vi.advanceTimersByTimeAsync(1999);
    expect(transports).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports).toHaveLength(3);
  });

  it('publishes each scheduled retry: the drawn delay and when the attempt starts', async () => {
    const { conn, transports, retries, last } = setup();
    conn.connect();
    last().handlers.onClose(1006, '');
    expect(retries).toEqual([{ attempt: expect.any(Number) as number, delayMs: 1000, at: Date.now() + 1000 }]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(transports).toHaveLength(2);
    last().handlers.onClose(1006, '');
    expect(retries[1]?.delayMs).toBe(2000);
  });

  it('resets the backoff after 10 s connected', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    for (let i = 0; i < 4; i++) {
      last().handlers.onClose(1006, '');
      await vi.runOnlyPendingTimersAsync(); // the retry (0.5-16 s by now)
    }
    expect(transports).toHaveLength(5);
    last().accept(0);
    await vi.advanceTimersByTimeAsync(10_000);
    last().handlers.onClose(1012, 'restart');
    const before = transports.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transports).toHaveLength(before + 1);
  });

  it('a refused token (4501): one attempt, unauthorized, and no traffic for 60 s', async () => {
    const { conn, transports, states, last } = setup();
    conn.connect();
    last().handlers.onOpen();
    last().frame({ type: 'error', code: 'unauthorized', message: 'invalid token' });
    last().handlers.onClose(4501, 'unauthorized');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transports).toHaveLength(1);
    expect(conn.state).toBe('unauthorized');
    expect(states.at(-1)).toEqual({
      oldState: 'connecting',
      newState: 'unauthorized',
      code: 4501,
      reason: 'unauthorized',
      transport: 'websocket',
    });
    expect(conn.pending).toEqual({ timers: 0, requests: 0 });
  });

  it('4001: calls getToken once, reconnects, and stops in unauthorized when refused again', async () => {
    const getToken = vi.fn(() => 'fresh');
    const { conn, transports, last } = setup({ token: 'old', getToken });
    conn.connect();
    last().accept();
    last().handlers.onClose(4001, 'token expired');
    await vi.advanceTimersByTimeAsync(0);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(transports).toHaveLength(2);
    last().handlers.onOpen();
    expect(last().sent[0]).toEqual({ op: 'auth', token: 'fresh' });
    last().handlers.onClose(4001, 'token expired');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(conn.state).toBe('unauthorized');
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(transports).toHaveLength(2);
  });

  it('getToken failing after 4001 ends in unauthorized', async () => {
    const { conn, transports, last } = setup({ token: 'old', getToken: () => Promise.reject(new Error('down')) });
    conn.connect();
    last().accept();
    last().handlers.onClose(4001, 'token expired');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(conn.state).toBe('unauthorized');
    expect(transports).toHaveLength(1);
  });

  it('4500 and 4503 close for good: no reconnect', async () => {
    for (const code of [4500, 4503]) {
      const { conn, transports, last } = setup();
      conn.connect();
      last().accept();
      last().handlers.onClose(code, 'bye');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(conn.state).toBe('closed');
      expect(transports).toHaveLength(1);
    }
  });

  it('pings after heartbeatMs of silence and reconnects after 2 × heartbeatMs', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().accept(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(last().sent.some((f) => f.op === 'ping')).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transports[0]?.closed?.code).toBe(3008);
    expect(conn.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transports).toHaveLength(2);
  });

  it('a connection that answers its pings stays up', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().accept(1_000);
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(250);
      for (const f of last().sent.splice(0)) if (f.op === 'ping') last().frame({ type: 'reply', id: f.id, result: {} });
    }
    expect(conn.state).toBe('connected');
    expect(transports).toHaveLength(1);
  });

  it('no welcome within connectTimeoutMs → retry', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().handlers.onOpen();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(transports[0]?.closed?.code).toBe(3007);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transports).toHaveLength(2);
  });

  it('refreshes the token with the refresh op before exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    let n = 0;
    const getToken = vi.fn(() => jwt(now + 100 + 100 * n++));
    const { conn, transports, last } = setup({ getToken });
    conn.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().accept(0);
    await vi.advanceTimersByTimeAsync(79_000);
    expect(last().sent.filter((f) => f.op === 'refresh')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    const refresh = last().sent.find((f) => f.op === 'refresh');
    expect(refresh).toMatchObject({ op: 'refresh', token: jwt(now + 200) });
    if (refresh?.op === 'refresh') last().frame({ type: 'reply', id: refresh.id, result: {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(conn.state).toBe('connected');
    expect(transports).toHaveLength(1);
  });

  it('online while waiting retries at once, once', () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().handlers.onClose(1006, '');
    conn.notify('online');
    expect(transports).toHaveLength(2);
    last().handlers.onClose(1006, '');
    conn.notify('visible');
    expect(transports).toHaveLength(2);
  });

  it('disconnect() closes with 1000 and stops every timer', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().accept(1_000);
    conn.disconnect();
    expect(transports[0]?.closed).toEqual({ code: 1000, reason: 'disconnect()' });
    expect(conn.pending).toEqual({ timers: 0, requests: 0 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transports).toHaveLength(1);
    expect(conn.state).toBe('disconnected');
  });

  it('a request without a reply times out and replaces the connection', async () => {
    const { conn, transports, last } = setup();
    conn.connect();
    last().accept(0);
    const reply = conn.request({ op: 'ping' });
    const settled = expect(reply).rejects.toMatchObject({ code: 'timeout' });
    await vi.advanceTimersByTimeAsync(10_000);
    await settled;
    expect(transports[0]?.closed?.code).toBe(3007);
  });
});
