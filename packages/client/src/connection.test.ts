/** The connection driven through a fake transport with fake timers: nothing sleeps. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setup } from './connection.fixture.js';

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
