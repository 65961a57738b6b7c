/**
 * The session (the welcome timeout, liveness, the stable timer, the proactive token
 * refresh), driven through the connection over a fake transport with fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setup } from './connection.fixture.js';

function jwt(exp: number): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', exp })}.sig`;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Session', () => {
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
});
