/**
 * The WebSocket endpoint against a real server on port 0 with real `ws` clients:
 * authentication after the handshake (failure mode 2), every op and reply,
 * every error code a frame can get, the `unsubscribed` frame, and every close code
 * the server produces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventListener } from '../src/engine/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient, eventually, type Frame } from './helpers/ws-client.js';

const isError = (code: string) => (f: Frame) => f.type === 'error' && f.code === code;

describe('WebSocket endpoint', () => {
  let t: TestServer;
  let alice: string;
  beforeAll(async () => {
    t = await startTestServer({
      authTimeoutMs: 300,
      maxSubscriptionsPerConnection: 4,
      historySize: 100,
      maxFrameBytes: 256 * 1024,
    });
    alice = await t.token({ sub: 'alice', channels: ['room:*'], publish: ['room:pub-*'] });
    await t.api('POST', '/tasks', { id: 'alice-task', owner: 'alice', title: 'mine' });
    await t.api('POST', '/tasks', { id: 'bob-task', owner: 'bob' });
  });
  afterAll(() => t.close());

  describe('failure mode 2: auth happens after the handshake, always with an error frame and a close code', () => {
    it('a first frame that is not auth gets error unauthorized and close 4501', async () => {
      const c = await TestClient.connect(t.wsUrl);
      c.send({ op: 'ping', id: 1 });
      expect(await c.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect(await c.closeCodeWithin()).toBe(4501);
    });

    it('an invalid token (frame, ?token=, ?ticket=) gets error unauthorized and close 4501', async () => {
      const c = await TestClient.connect(t.wsUrl);
      c.send({ op: 'auth', token: 'not-a-jwt' });
      expect(await c.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect(await c.closeCodeWithin()).toBe(4501);
      for (const q of ['?token=garbage', '?ticket=nope']) {
        const u = await TestClient.connect(t.wsUrl + q);
        expect(await u.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
        expect(await u.closeCodeWithin()).toBe(4501);
      }
    });

    it('an expired token gets error unauthorized "token expired" and close 4001', async () => {
      const expired = await t.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 });
      const c = await TestClient.connect(t.wsUrl);
      c.send({ op: 'auth', token: expired });
      expect(await c.next()).toEqual({ type: 'error', code: 'unauthorized', message: 'token expired' });
      expect(await c.closeCodeWithin()).toBe(4001);
      const u = await TestClient.connect(`${t.wsUrl}?token=${expired}`);
      expect(await u.next()).toMatchObject({ type: 'error', code: 'unauthorized', message: 'token expired' });
      expect(await u.closeCodeWithin()).toBe(4001);
    });

    it('no auth within authTimeoutMs gets error unauthorized and close 4501', async () => {
      const c = await TestClient.connect(t.wsUrl);
      expect(await c.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect(await c.closeCodeWithin()).toBe(4501);
    });

    it('accepts ?token= and a single-use ?ticket=', async () => {
      const byToken = await TestClient.connect(`${t.wsUrl}?token=${alice}`);
      expect(await byToken.next()).toMatchObject({ type: 'welcome', user: 'alice' });
      const issued = await t.api('POST', '/tickets', undefined, { token: alice });
      expect(issued.status).toBe(200);
      const byTicket = await TestClient.connect(`${t.wsUrl}?ticket=${issued.body.ticket as string}`);
      expect(await byTicket.next()).toMatchObject({ type: 'welcome', user: 'alice' });
      const reused = await TestClient.connect(`${t.wsUrl}?ticket=${issued.body.ticket as string}`);
      expect(await reused.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect(await reused.closeCodeWithin()).toBe(4501);
      byToken.close();
      byTicket.close();
    });
  });

  it('sends the welcome frame exactly as docs/protocol.md §2, with the 1.1 features of §8', async () => {
    const c = await TestClient.connect(t.wsUrl);
    c.send({ op: 'auth', token: alice });
    const w = await c.next();
    expect(Object.keys(w)).toEqual([
      'type',
      'protocol',
      'connectionId',
      'user',
      'heartbeatMs',
      'serverTime',
      'features',
    ]);
    expect(w).toMatchObject({
      type: 'welcome',
      protocol: 1,
      features: ['batches', 'streams', 'retention'],
      user: 'alice',
      heartbeatMs: t.server.ctx.config.heartbeatMs,
    });
    expect(w.connectionId).toMatch(/^c_/);
    expect(typeof w.serverTime).toBe('number');
    c.close();
  });

  it('answers a plain HTTP GET on the route with 426 and a JSON error body; the route exists once, under /api/v1', async () => {
    const res = await fetch(`${t.url}/api/v1/ws`);
    expect(res.status).toBe(426);
    expect(await res.json()).toEqual({ error: { code: 'bad_request', message: expect.any(String) as string } });
    expect((await fetch(`${t.url}/ws`)).status).toBe(404);
    expect((await fetch(`${t.url}/api/v1/api/v1/ws`)).status).toBe(404);
  });

  it('round-trips every op: ping, subscribe, publish (idempotent), event, unsubscribe, refresh', async () => {
    const c = await TestClient.authed(t.wsUrl, alice);
    expect(await c.request({ op: 'ping' })).toEqual({ type: 'reply', id: 1, result: {} });

    const sub = await c.request({ op: 'subscribe', channel: 'room:pub-1' });
    expect(sub.result).toEqual({ channel: 'room:pub-1', epoch: expect.any(String) as string, offset: 0, events: [] });

    const pub = await c.request({ op: 'publish', channel: 'room:pub-1', data: { n: 1 }, idempotencyKey: 'k1' });
    expect(pub.result).toEqual({ epoch: sub.result.epoch as string, offset: 1 });
    const again = await c.request({ op: 'publish', channel: 'room:pub-1', data: { n: 1 }, idempotencyKey: 'k1' });
    expect(again.result).toEqual(pub.result);
    const ev = await c.next((f) => f.type === 'event');
    expect(Object.keys(ev)).toEqual(['type', 'channel', 'epoch', 'offset', 'time', 'data']);
    expect(ev).toMatchObject({ channel: 'room:pub-1', epoch: sub.result.epoch as string, offset: 1, data: { n: 1 } });

    const hist = await c.request({ op: 'subscribe', channel: 'room:pub-2', history: 5 });
    expect(hist.result.events).toEqual([]);
    expect(await c.request({ op: 'unsubscribe', channel: 'room:pub-1' })).toMatchObject({ result: {} });
    expect(await c.request({ op: 'unsubscribe', channel: 'room:pub-1' })).toMatchObject({ result: {} });
    await c.request({ op: 'publish', channel: 'room:pub-1', data: 2 });
    await c.request({ op: 'publish', channel: 'room:pub-2', data: 3 });
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'room:pub-2', offset: 1 });

    const fresh = await t.token({ sub: 'alice', channels: ['room:*'] });
    expect(await c.request({ op: 'refresh', token: fresh })).toMatchObject({ result: {} });
    c.close();
  });

  it('keeps the old token when refresh presents another user or an invalid token', async () => {
    const c = await TestClient.authed(t.wsUrl, alice);
    const bob = await t.token({ sub: 'bob' });
    expect(await c.request({ op: 'refresh', token: bob })).toMatchObject({ error: { code: 'forbidden' } });
    expect(await c.request({ op: 'refresh', token: 'garbage' })).toMatchObject({ error: { code: 'unauthorized' } });
    expect(await c.request({ op: 'subscribe', channel: 'user:alice' })).toMatchObject({
      result: { channel: 'user:alice' },
    });
    c.close();
  });

  it('answers subscribe with the task snapshot, not_found for unknown or foreign tasks, forbidden for foreign channels', async () => {
    const c = await TestClient.authed(t.wsUrl, alice);
    const own = await c.request({ op: 'subscribe', channel: 'task:alice-task' });
    expect(own.result).toMatchObject({
      channel: 'task:alice-task',
      offset: 1,
      snapshot: { id: 'alice-task', owner: 'alice' },
    });
    expect(await c.request({ op: 'subscribe', channel: 'task:bob-task' })).toMatchObject({
      error: { code: 'not_found' },
    });
    expect(await c.request({ op: 'subscribe', channel: 'task:missing' })).toMatchObject({
      error: { code: 'not_found' },
    });
    expect(await c.request({ op: 'subscribe', channel: 'user:bob' })).toMatchObject({ error: { code: 'forbidden' } });
    c.close();
    const granted = await TestClient.authed(t.wsUrl, await t.token({ sub: 'carol', channels: ['task:later-*'] }));
    expect((await granted.request({ op: 'subscribe', channel: 'task:later-1' })).result).toMatchObject({
      snapshot: null,
    });
    granted.close();
  });

  it('answers coded errors for bad requests and keeps the connection open', async () => {
    const c = await TestClient.authed(t.wsUrl, alice);
    const code = async (frame: Frame): Promise<string> => ((await c.request(frame)).error as { code: string }).code;
    expect(await code({ op: 'subscribe', channel: 'nope:x' })).toBe('bad_request');
    expect(await code({ op: 'subscribe', channel: 'room:a', history: 101 })).toBe('bad_request');
    expect(await code({ op: 'subscribe', channel: 'room:' + 'x'.repeat(129) })).toBe('bad_request');
    expect(await code({ op: 'frobnicate' })).toBe('bad_request');
    expect(await code({ op: 'publish', channel: 'task:alice-task', data: 1 })).toBe('forbidden');
    expect(await code({ op: 'publish', channel: 'room:other', data: 1 })).toBe('forbidden');
    expect(await code({ op: 'publish', channel: 'room:pub-big', data: 'x'.repeat(70 * 1024) })).toBe('bad_request');
    await c.request({ op: 'subscribe', channel: 'room:a' });
    expect(await code({ op: 'subscribe', channel: 'room:a' })).toBe('bad_request'); // already subscribed
    await c.request({ op: 'subscribe', channel: 'room:b' });
    await c.request({ op: 'subscribe', channel: 'room:c' });
    await c.request({ op: 'subscribe', channel: 'room:d' });
    expect(await code({ op: 'subscribe', channel: 'room:e' })).toBe('limit_exceeded');
    c.send('{not json');
    expect(await c.next(isError('bad_request'))).toMatchObject({ message: 'frame is not valid JSON' });
    c.send({ op: 'auth', token: alice });
    expect(await c.next(isError('bad_request'))).toMatchObject({ code: 'bad_request' });
    c.ws.send(Buffer.from('{"op":"ping","id":9}'), { binary: true });
    expect(await c.next(isError('bad_request'))).toMatchObject({ code: 'bad_request' });
    expect(await c.request({ op: 'ping' })).toMatchObject({ result: {} });
    c.close();
  });

  it('sends an unsubscribed frame with resubscribe:true when the hub ends a subscription (epoch change, unfillable gap)', async () => {
    const engine = t.server.ctx.engine;
    const original = engine.subscribe.bind(engine);
    const listeners = new Map<string, EventListener>();
    engine.subscribe = (channel, listener) => {
      listeners.set(channel, listener);
      return original(channel, listener);
    };
    try {
      const c = await TestClient.authed(t.wsUrl, alice);
      const sub = await c.request({ op: 'subscribe', channel: 'room:ended-1' });
      listeners.get('room:ended-1')!({ channel: 'room:ended-1', epoch: 'another', offset: 1, time: 0, data: null });
      expect(await c.next((f) => f.type === 'unsubscribed')).toEqual({
        type: 'unsubscribed',
        channel: 'room:ended-1',
        code: 'unavailable',
        message: expect.any(String) as string,
        resubscribe: true,
      });
      await c.request({ op: 'subscribe', channel: 'room:ended-2' });
      const epoch = sub.result.epoch as string;
      listeners.get('room:ended-2')!({ channel: 'room:ended-2', epoch, offset: 7, time: 0, data: null });
      expect(await c.next((f) => f.type === 'unsubscribed')).toMatchObject({
        channel: 'room:ended-2',
        resubscribe: true,
      });
      // The channel can be subscribed again at once.
      expect(await c.request({ op: 'subscribe', channel: 'room:ended-1' })).toMatchObject({
        result: { channel: 'room:ended-1' },
      });
      c.close();
    } finally {
      engine.subscribe = original;
    }
  });
});

describe('close codes the server produces', () => {
  it('1009 for a frame over maxFrameBytes', async () => {
    const t = await startTestServer({ maxFrameBytes: 1024 });
    try {
      const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'a' }));
      c.send({ op: 'ping', id: 1, pad: 'x'.repeat(2000) });
      expect(await c.closeCodeWithin()).toBe(1009);
      await eventually(() => t.server.stats().connections === 0, 'the server dropped it');
    } finally {
      await t.close();
    }
  });

  it('4001 when the token expires while connected (unless refreshed)', async () => {
    const t = await startTestServer({ clockLeewaySec: 0 });
    try {
      const soon = Math.floor(Date.now() / 1000) + 2;
      const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'a', exp: soon }));
      const r = await TestClient.authed(t.wsUrl, await t.token({ sub: 'a', exp: soon }));
      expect(await r.request({ op: 'refresh', token: await t.token({ sub: 'a' }) })).toMatchObject({ result: {} });
      expect(await c.next()).toEqual({ type: 'error', code: 'unauthorized', message: 'token expired' });
      expect(await c.closeCodeWithin()).toBe(4001);
      expect(await r.request({ op: 'ping' })).toMatchObject({ result: {} }); // the refreshed one stays
      r.close();
    } finally {
      await t.close();
    }
  });

  it('a burst far over maxPendingFrames is slowed down, not refused: every frame gets its reply, in order', async () => {
    const t = await startTestServer({ maxPendingFrames: 5 });
    try {
      const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'a', publish: ['room:*'] }));
      const n = 5000;
      const burst = Array.from({ length: n }, (_, i) =>
        JSON.stringify({ op: 'publish', id: i, channel: 'room:burst', data: { i } }),
      );
      for (const f of burst) c.ws.send(f);
      const replies: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = await c.next((f) => f.type === 'reply', `reply ${i}`);
        expect(r).not.toHaveProperty('error');
        replies.push(r.id as number);
      }
      expect(replies).toEqual(Array.from({ length: n }, (_, i) => i));
      expect((await c.request({ op: 'ping' })).result).toEqual({});
      expect(c.closeCode).toBeNull();
      c.close();
    } finally {
      await t.close();
    }
  });

  it('answers frames in order when asynchronous work (subscribe, a bad frame) sits between publishes answered at once', async () => {
    const t = await startTestServer();
    try {
      const c = await TestClient.authed(
        t.wsUrl,
        await t.token({ sub: 'a', channels: ['room:*'], publish: ['room:*'] }),
      );
      const frames = [
        { op: 'publish', id: 0, channel: 'room:mix', data: 0 },
        { op: 'subscribe', id: 1, channel: 'room:mix' },
        { op: 'publish', id: 2, channel: 'room:mix', data: 2 },
        { op: 'publish', id: 3, channel: 'task:nope', data: 3 },
        { op: 'ping', id: 4 },
        { op: 'publish', id: 5, channel: 'room:mix', data: 5 },
      ];
      // One TCP write: every frame arrives in the same read.
      (c.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(
        Buffer.concat(frames.map((f) => maskedTextFrame(JSON.stringify(f)))),
      );
      type Reply = { id: number; error?: { code: string }; result?: { offset?: number } };
      const replies: Reply[] = [];
      for (let i = 0; i < frames.length; i++)
        replies.push((await c.next((f) => f.type === 'reply', `reply ${i}`)) as Reply);
      expect(replies.map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(replies.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'forbidden', 'ok', 'ok']);
      // The subscribe answers the position after the publish before it.
      expect(replies.map((r) => r.result?.offset)).toEqual([1, 1, 2, undefined, undefined, 3]);
      expect((await c.next((f) => f.type === 'event')).data).toBe(2);
      expect((await c.next((f) => f.type === 'event')).data).toBe(5);
      c.close();
    } finally {
      await t.close();
    }
  });

  it('4029 over the per-user and the node connection limits', async () => {
    const t = await startTestServer({ maxConnectionsPerUser: 2, maxConnections: 3 });
    try {
      const tok = await t.token({ sub: 'a' });
      const keep = [await TestClient.authed(t.wsUrl, tok), await TestClient.authed(t.wsUrl, tok)];
      const third = await TestClient.connect(t.wsUrl);
      third.send({ op: 'auth', token: tok });
      expect(await third.next()).toMatchObject({ type: 'error', code: 'limit_exceeded' });
      expect(await third.closeCodeWithin()).toBe(4029);
      keep.push(await TestClient.authed(t.wsUrl, await t.token({ sub: 'b' })));
      // The node's limit applies once a socket authenticates (sockets waiting to authenticate hold no slot).
      const over = await TestClient.connect(t.wsUrl);
      over.send({ op: 'auth', token: await t.token({ sub: 'c' }) });
      expect(await over.next()).toMatchObject({ type: 'error', code: 'limit_exceeded' });
      expect(await over.closeCodeWithin()).toBe(4029);
      for (const k of keep) k.close();
    } finally {
      await t.close();
    }
  });

  it('1012 to every client on graceful shutdown', async () => {
    const t = await startTestServer();
    const tok = await t.token({ sub: 'a' });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.authed(t.wsUrl, tok)));
    const pending = await TestClient.connect(t.wsUrl); // not authenticated yet
    await t.close();
    for (const c of [...clients, pending]) expect(await c.closeCodeWithin()).toBe(1012);
    expect(t.server.stats()).toMatchObject({ connections: 0, timers: 0 });
    await expect(TestClient.connect(t.wsUrl)).rejects.toThrow();
  });
});

/** A client's (masked, RFC 6455 §5.3) text frame, for writing several frames in one TCP write. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('short frames only');
  const mask = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return out;
}
