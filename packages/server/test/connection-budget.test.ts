/**
 * One connection budget for every transport, a separate budget for sockets that have
 * not authenticated, and a refresh that narrows what a connection may hold: through
 * the public entry points (WebSocket, SSE, long-poll), on a real server.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SseClient } from './helpers/sse-client.js';
import { TestClient, eventually } from './helpers/ws-client.js';

/** A long-poll that waits (nothing after `since`); resolves with its status when it is answered. */
async function longPoll(
  t: TestServer,
  token: string,
  channel: string,
  wait = 20,
): Promise<{ status: number; ms: number }> {
  const at = (await t.api('GET', `/channels/${channel}/history`, undefined, { token })).body as {
    epoch: string;
    offset: number;
  };
  const started = Date.now();
  const res = await t.api(
    'GET',
    `/channels/${channel}/history?since=${at.epoch}:${at.offset}&wait=${wait}`,
    undefined,
    {
      token,
    },
  );
  return { status: res.status, ms: Date.now() - started };
}

describe('one connection budget for WebSocket, SSE and long-poll', () => {
  it('counts held long-polls per user and per node: over either, 429 at once, before any wait', async () => {
    const t = await startTestServer({ maxConnections: 5, maxConnectionsPerUser: 3 });
    try {
      const a = await t.token({ sub: 'a' });
      const held = [longPoll(t, a, 'user:a'), longPoll(t, a, 'user:a'), longPoll(t, a, 'user:a')];
      await eventually(() => t.server.stats().connectionsByTransport.longpoll === 3, 'three long-polls held');
      // The user's 4th connection, by any transport, is refused at once.
      const fourth = await longPoll(t, a, 'user:a');
      expect(fourth.status).toBe(429);
      expect(fourth.ms).toBeLessThan(5000);
      const sse = await t.api('GET', '/channels/user:a/events', undefined, { token: a });
      expect(sse.status).toBe(429);
      expect(sse.body.error.code).toBe('limit_exceeded');
      const ws = await TestClient.connect(t.wsUrl);
      ws.send({ op: 'auth', token: a });
      expect(await ws.next()).toMatchObject({ type: 'error', code: 'limit_exceeded' });
      expect(await ws.closeCodeWithin()).toBe(4029);
      // Other users fill the node: 3 + 2 = 5, then nobody else gets in.
      const b = await t.token({ sub: 'b' });
      const bWs = await TestClient.authed(t.wsUrl, b);
      const bSse = new SseClient(`${t.url}/api/v1/channels/user:b/events`, { token: () => b });
      await eventually(() => t.server.stats().connectionsByTransport.sse === 1, 'b streams');
      const c = await t.token({ sub: 'c' });
      expect((await longPoll(t, c, 'user:c')).status).toBe(429);
      expect((await t.api('GET', '/stats')).body).toMatchObject({
        connectionsByTransport: { ws: 1, sse: 1, longpoll: 3 },
      });
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      expect(metrics).toMatch(/taskwire_connections\{transport="longpoll"\} 3/);
      // Answering the long-polls frees their slots.
      await t.api('POST', '/channels/user:a/publish', { data: { go: 1 } });
      expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200]);
      await eventually(() => t.server.stats().connectionsByTransport.longpoll === 0, 'long-polls done');
      const again = await TestClient.authed(t.wsUrl, c);
      again.close();
      bWs.close();
      bSse.close();
    } finally {
      await t.close();
    }
  });
});

describe('sockets waiting to authenticate', () => {
  it('hold no connection slot; past --max-pending-auth the oldest is closed 4501, and a client that authenticates gets in', async () => {
    const t = await startTestServer({ maxConnections: 2, maxPendingAuth: 5, authTimeoutMs: 60_000 });
    try {
      const silent: TestClient[] = [];
      for (let i = 0; i < 15; i++) silent.push(await TestClient.connect(t.wsUrl));
      // The first 10 were closed to admit later ones; the last 5 still wait.
      for (const s of silent.slice(0, 10)) {
        expect(await s.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
        expect(await s.closeCodeWithin()).toBe(4501);
      }
      await eventually(() => t.server.stats().pendingAuth === 5, 'five pending');
      // Real clients get in although 5 silent sockets are open and maxConnections is 2.
      const one = await TestClient.authed(t.wsUrl, await t.token({ sub: 'one' }));
      const two = await TestClient.authed(t.wsUrl, await t.token({ sub: 'two' }));
      expect((await one.request({ op: 'ping' })).result).toEqual({});
      // The first of them found the budget full: the oldest silent one made room (then one slot stayed free).
      expect(await silent[10]!.closeCodeWithin()).toBe(4501);
      for (const s of silent.slice(11)) expect(s.closeCode).toBeNull();
      expect((await t.api('GET', '/stats')).body.pendingAuth).toBe(4);
      one.close();
      two.close();
      for (const s of silent) s.close();
    } finally {
      await t.close();
    }
  });
});

describe('a refresh to a narrower token', () => {
  it('ends every subscription the new token no longer allows, before its reply, and nothing more is delivered on it', async () => {
    const t = await startTestServer();
    try {
      const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'r', channels: ['room:*'] }));
      for (const channel of ['room:a', 'room:b']) await c.request({ op: 'subscribe', channel });
      await t.api('POST', '/channels/room:a/publish', { data: { n: 1 } });
      expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'room:a', offset: 1 });
      const refresh = c.request({ op: 'refresh', token: await t.token({ sub: 'r', channels: ['room:b'] }) });
      expect(await c.next((f) => f.type === 'unsubscribed')).toEqual({
        type: 'unsubscribed',
        channel: 'room:a',
        code: 'forbidden',
        message: expect.any(String) as string,
        resubscribe: false,
      });
      expect((await refresh).result).toEqual({});
      await t.api('POST', '/channels/room:a/publish', { data: { n: 2 } });
      await t.api('POST', '/channels/room:b/publish', { data: { n: 3 } });
      // The next event is room:b's: room:a's second event never arrives.
      expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'room:b', data: { n: 3 } });
      const again = await c.request({ op: 'subscribe', channel: 'room:a' });
      expect(again.error).toMatchObject({ code: 'forbidden' });
      c.close();
    } finally {
      await t.close();
    }
  });
});
