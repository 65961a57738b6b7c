/**
 * Robustness of the WebSocket side against a real server and real clients:
 * failure modes 3 (leaks after abrupt disconnects), 4 (disconnect storms
 * while broadcasting, silent peers) and 5 (a client that never reads), bad input
 * (a property test of random frames; 20 bad frames in a minute → 4500).
 */
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '@taskwire/protocol';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient, eventually, type Frame } from './helpers/ws-client.js';

const LEAK_FREE = { connections: 0, subscriptions: 0, channels: 0, engineSubscriptions: 0, timers: 0 };

async function expectNoLeaks(t: TestServer): Promise<void> {
  await eventually(
    () => {
      const s = t.server.stats();
      return s.connections === 0 && s.subscriptions === 0 && s.engineSubscriptions === 0 && s.timers === 0;
    },
    `no leaks (stats: ${JSON.stringify(t.server.stats())})`,
  );
  expect(t.server.stats()).toMatchObject(LEAK_FREE);
}

/** Keep publishing to `channel` from the server side until stopped; resolves with the count. */
function publisher(t: TestServer, channel: string, data: unknown = { x: 1 }): { stop: () => Promise<number> } {
  let state: 'running' | 'stopped' = 'running';
  let count = 0;
  const loop = (async () => {
    while (state === 'running') {
      await t.server.ctx.engine.publish({ channel, data });
      count += 1;
      if (count % 20 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      state = 'stopped';
      await loop;
      return count;
    },
  };
}

const socketOf = (c: TestClient): Socket => (c.ws as unknown as { _socket: Socket })._socket;

describe('failure mode 3: no leaks after abrupt disconnects', () => {
  it('after 1,000 abrupt disconnects (sockets destroyed mid-stream) zero connections, subscriptions, timers and engine subscriptions remain', async () => {
    const t = await startTestServer({ maxConnectionsPerUser: 1000 });
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'] });
      await t.api('POST', '/tasks', { id: 'leak-task', owner: 'alice' });
      const pubs = ['room:leak-a', 'room:leak-b', 'task:leak-task'].map((ch) =>
        ch.startsWith('task:') ? null : publisher(t, ch),
      );
      let destroyed = 0;
      for (let round = 0; round < 10; round++) {
        const clients = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const c = await TestClient.connect(t.wsUrl, { inbox: (f) => f.type !== 'event' });
            const stage = i % 4;
            if (stage === 0) return c; // destroyed while authenticating (auth timer running)
            c.send({ op: 'auth', token });
            if (stage === 1) return c; // destroyed while the token is being verified
            await c.next((f) => f.type === 'welcome', 'welcome');
            c.send({ op: 'subscribe', id: 1, channel: 'room:leak-a' });
            c.send({ op: 'subscribe', id: 2, channel: 'task:leak-task' });
            if (stage === 2) return c; // destroyed mid-subscribe
            c.send({ op: 'subscribe', id: 3, channel: 'room:leak-b' });
            await c.next((f) => f.type === 'reply' && f.id === 3, 'subscribed');
            return c; // destroyed while events stream in
          }),
        );
        for (const c of clients) c.destroy();
        destroyed += clients.length;
      }
      for (const p of pubs) await p?.stop();
      expect(destroyed).toBe(1000);
      await expectNoLeaks(t);
      expect(t.server.ctx.engine.stats().subscriptions).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('failure mode 4: disconnect storms while broadcasting, silent peers', () => {
  it('closing and destroying half of 200 subscribers while broadcasting leaves the others with gapless streams', async () => {
    const t = await startTestServer({ maxConnectionsPerUser: 500 });
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'] });
      const channel = 'room:storm';
      const clients = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const offsets: number[] = [];
          const c = await TestClient.authed(t.wsUrl, token, {
            inbox: (f) => f.type !== 'event',
            onFrame: (f) => {
              if (f.type === 'event') offsets.push(f.offset as number);
            },
          });
          const from = (await c.request({ op: 'subscribe', channel })).result.offset as number;
          return { c, from, offsets };
        }),
      );
      const pub = publisher(t, channel);
      await eventually(() => clients.every((x) => x.offsets.length > 10), 'events flowing');
      clients.forEach((x, i) => {
        if (i % 4 === 0) x.c.destroy();
        else if (i % 4 === 1) x.c.close();
      });
      await eventually(() => t.server.stats().connections === 100, 'the storm was absorbed');
      const total = await pub.stop();
      const survivors = clients.filter((_, i) => i % 4 >= 2);
      await eventually(() => survivors.every((x) => x.from + x.offsets.length >= total), 'survivors got every event');
      for (const x of survivors)
        expect(x.offsets).toEqual(Array.from({ length: total - x.from }, (_, k) => x.from + k + 1));
      expect(t.server.stats()).toMatchObject({ connections: 100, subscriptions: 100, channels: 1 });
      for (const x of survivors) x.c.close();
      await expectNoLeaks(t);
    } finally {
      await t.close();
    }
  });

  it('the heartbeat terminates a peer that stops answering pings, and keeps a live one', async () => {
    const t = await startTestServer({ heartbeatMs: 1000 });
    try {
      const token = await t.token({ sub: 'alice' });
      const silent = await TestClient.authed(t.wsUrl, token, { autoPong: false });
      const live = await TestClient.authed(t.wsUrl, token);
      expect(await silent.closeCodeWithin()).toBe(1006); // terminated: no close frame
      await eventually(() => t.server.stats().connections === 1, 'the silent peer is gone');
      expect(await live.request({ op: 'ping' })).toMatchObject({ result: {} });
      live.close();
      await expectNoLeaks(t);
    } finally {
      await t.close();
    }
  });
});

describe('failure mode 5: a client that never reads', () => {
  it('is closed with 4009 while the others keep receiving everything, and its buffer stays bounded', async () => {
    const sendBufferBytes = 64 * 1024;
    const t = await startTestServer({ sendBufferBytes });
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'] });
      const channel = 'room:firehose';
      const slow = await TestClient.authed(t.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      await slow.request({ op: 'subscribe', channel });
      socketOf(slow).pause(); // never reads from now on
      const fast = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const offsets: number[] = [];
          const c = await TestClient.authed(t.wsUrl, token, {
            inbox: (f) => f.type !== 'event',
            onFrame: (f) => {
              if (f.type === 'event') offsets.push(f.offset as number);
            },
          });
          const from = (await c.request({ op: 'subscribe', channel })).result.offset as number;
          return { c, from, offsets };
        }),
      );
      const pub = publisher(t, channel, { pad: 'x'.repeat(1024) });
      await eventually(() => t.server.stats().slowConsumerCloses === 1, 'the slow consumer was closed', 60_000);
      const total = await pub.stop();
      // Far more was published than one send buffer holds: the slow client's share was cut off, not buffered.
      expect(total * 1024).toBeGreaterThan(4 * sendBufferBytes);
      socketOf(slow).resume();
      expect(await slow.closeCodeWithin()).toBe(4009);
      await eventually(() => fast.every((x) => x.from + x.offsets.length >= total), 'fast clients got every event');
      for (const x of fast) expect(x.offsets).toEqual(Array.from({ length: total - x.from }, (_, k) => x.from + k + 1));
      await eventually(() => t.server.stats().connections === 5, 'the slow consumer is gone');
      expect(t.server.stats()).toMatchObject({ connections: 5, slowConsumerCloses: 1 });
      for (const x of fast) x.c.close();
      await expectNoLeaks(t);
    } finally {
      await t.close();
    }
  });
});

describe('bad input', () => {
  const ops = ['auth', 'subscribe', 'unsubscribe', 'publish', 'ping', 'refresh', 'nope', ''];
  const junk = fc.oneof(
    fc.anything({ maxDepth: 4 }),
    fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -1, 0.5, -0, '', 'task:', 'room:ok', 'user:alice'),
  );
  const frameArb = fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      '{"op":"ping","id":1e400}',
      '{"id":123456789012345678901234567890,"op":"ping"}',
      '[]',
      'null',
      '{',
      '"x"',
    ),
    fc
      .record(
        { op: fc.constantFrom(...ops), id: junk, channel: junk, since: junk, history: junk, data: junk, token: junk },
        { requiredKeys: ['op'] },
      )
      .map((o) => JSON.stringify(o)),
  );

  it('answers 1,000+ random frames with coded errors, stays up and leaks nothing', async () => {
    const t = await startTestServer();
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'], publish: ['room:*'] });
      const codes = new Set<string>(errorCodes);
      let client: TestClient | null = null;
      let used = 0;
      let marker = 1_000_000;
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(frameArb, async (text) => {
          runs += 1;
          if (!client || used >= 15) {
            client?.close();
            client = await TestClient.authed(t.wsUrl, token);
            used = 0;
          }
          used += 1;
          const c = client;
          const id = ++marker;
          const got: Frame[] = [];
          c.send(text);
          c.send({ op: 'ping', id });
          for (;;) {
            const f = await c.next();
            if (f.type === 'reply' && f.id === id && got.length > 0) break;
            got.push(f);
          }
          for (const f of got) {
            if (f.type === 'error') expect(codes.has(f.code as string)).toBe(true);
            else if (f.type === 'reply' && f.error) expect(codes.has(f.error.code as string)).toBe(true);
            else expect(['reply', 'event', 'unsubscribed']).toContain(f.type);
          }
          expect(c.closeCode).toBeNull();
        }),
        { numRuns: 1000 },
      );
      expect(runs).toBeGreaterThanOrEqual(1000);
      (client as TestClient | null)?.close();
      const after = await TestClient.authed(t.wsUrl, token);
      expect(await after.request({ op: 'ping' })).toMatchObject({ result: {} });
      after.close();
      await expectNoLeaks(t);
    } finally {
      await t.close();
    }
  });

  it('closes the connection with 4500 on the 20th bad frame within a minute', async () => {
    const t = await startTestServer();
    try {
      const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'alice' }));
      for (let i = 0; i < 19; i++) c.send('{"op":"nope"}');
      for (let i = 0; i < 19; i++) await c.next((f) => f.type === 'error', `error ${i}`);
      expect(await c.request({ op: 'ping' })).toMatchObject({ result: {} });
      c.send({ op: 'subscribe', id: 7, channel: 'bad name' });
      expect(await c.next((f) => f.type === 'reply' && f.id === 7)).toMatchObject({ error: { code: 'bad_request' } });
      expect(await c.next()).toMatchObject({ type: 'error', code: 'bad_request' });
      expect(await c.closeCodeWithin()).toBe(4500);
      await expectNoLeaks(t);
    } finally {
      await t.close();
    }
  });
});
