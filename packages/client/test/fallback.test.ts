/**
 * Transport fallback against the real server, behind a real HTTP proxy that refuses
 * WebSocket upgrades (and, in one test, Server-Sent Events), with the real
 * EventSource of the `eventsource` package: the client ends on SSE (or long-poll)
 * and still sees every event exactly once, in order, with the server's final snapshot.
 */
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { signDevToken } from '../../server/src/config/resolve.js';
import { createClient } from '../src/fallback-entry.js';
import type { ClientOptions, StateEvent, TaskwireClient } from '../src/index.js';
import { api, tokenFor } from './helpers/http.js';
import { startHttpProxy, type HttpProxy } from './helpers/http-proxy.js';
import { Recorder } from './helpers/recorder.js';
import { restartable, type Restartable } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const FAST = { minMs: 20, maxMs: 300, longMinMs: 100 };
let server: Restartable | undefined;
let proxy: HttpProxy | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
  await server?.close();
  proxy = server = undefined;
});

const base = (s: Restartable): string => `http://127.0.0.1:${s.port}`;

/** A client of alice's through the proxy, following task `id`. */
async function follow(s: Restartable, p: HttpProxy, id: string, more: Partial<ClientOptions> = {}) {
  const client = createClient({
    url: `ws://127.0.0.1:${p.port}/api/v1/ws`,
    token: await tokenFor(s.current, { sub: 'alice' }),
    EventSource,
    backoff: FAST,
    ...more,
  });
  clients.push(client);
  const rec = new Recorder(client);
  const states: StateEvent[] = [];
  client.on('state', (e) => states.push(e));
  client.connect();
  const handle = client.task(id);
  handle.subscribe(rec.listener);
  await waitFor('subscribed', () => handle.state === 'subscribed', 30_000);
  return { client, rec, states, handle };
}

/** `count` updates of task `id` straight to the server (not through the proxy). */
async function updates(s: Restartable, id: string, from: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await api(base(s), 'PATCH', `/tasks/${id}`, { status: 'running', progress: (from + i) % 100 });
  }
}

describe('transport fallback', () => {
  it('WebSocket upgrade refused → SSE, and every one of 200 updates arrives once, in order', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startHttpProxy(s.port, { upgrade: 'refuse' }));
    await api(base(s), 'POST', '/tasks', { id: 'a1', owner: 'alice' });
    const { client, rec, states, handle } = await follow(s, p, 'a1');
    expect(client.transport).toBe('sse');
    expect(p.upgrades).toBeGreaterThanOrEqual(3);
    expect(states.find((e) => e.newState === 'connected')?.transport).toBe('sse');

    await updates(s, 'a1', 0, 200);
    await waitFor('every event', () => rec.offsets.at(-1) === 201, 30_000);
    // task.created (offset 1) came before the subscription, as the snapshot.
    expect(rec.offsets).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    expect(rec.resyncs).toBe(0);
    expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/a1'));
    // Streams were opened with single-use tickets: the token never travelled in a URL.
    const streams = p.requests.filter((r) => r.includes('/events?'));
    expect(streams.length).toBeGreaterThanOrEqual(2); // the probe and the task's stream
    expect(streams.every((r) => r.includes('ticket=') && !r.includes('token='))).toBe(true);
  });

  it('WebSocket and SSE both refused → long-poll, and still every event', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startHttpProxy(s.port, { upgrade: 'drop', refuseSse: true }));
    await api(base(s), 'POST', '/tasks', { id: 'b1', owner: 'alice' });
    const { client, rec, states, handle } = await follow(s, p, 'b1');
    expect(client.transport).toBe('longpoll');
    expect(p.sseRefused).toBeGreaterThanOrEqual(3);
    expect(states.find((e) => e.newState === 'connected')?.transport).toBe('longpoll');

    await updates(s, 'b1', 0, 200);
    await waitFor('every event', () => rec.offsets.at(-1) === 201, 30_000);
    expect(rec.offsets).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/b1'));
    expect(p.requests.some((r) => /\/history\?limit=100&since=[^&]+&wait=25/.test(r))).toBe(true);
  });

  it('a server restart while on SSE: the stream drops, the client recovers with since, gapless', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startHttpProxy(s.port, { upgrade: 'refuse' }));
    await api(base(s), 'POST', '/tasks', { id: 'c1', owner: 'alice' });
    const { client, rec, states, handle } = await follow(s, p, 'c1');
    expect(client.transport).toBe('sse');
    await updates(s, 'c1', 0, 50);
    await waitFor('the first 50', () => rec.offsets.at(-1) === 51);
    const connects = states.filter((e) => e.newState === 'connected').length;
    await s.restart();
    await updates(s, 'c1', 50, 50); // while the client is away
    await waitFor('reconnected', () => states.filter((e) => e.newState === 'connected').length > connects, 30_000);
    await updates(s, 'c1', 100, 50);
    await waitFor('every event', () => rec.offsets.at(-1) === 151, 30_000);
    expect(rec.codes).toContain(1006); // the stream was lost
    expect(client.transport).toBe('sse'); // a restart is not a reason to fall further back
    expect(rec.offsets).toEqual(Array.from({ length: 150 }, (_, i) => i + 2));
    expect(rec.resyncs).toBe(0);
    expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/c1'));
    // The resubscribe asked for recovery from the last position.
    expect(p.requests.some((r) => /\/channels\/task%3Ac1\/events\?ticket=[^&]+&lastEventId=/.test(r))).toBe(true);
  });

  it('a server restart while on long-poll: polling resumes from the last position, gapless', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startHttpProxy(s.port));
    await api(base(s), 'POST', '/tasks', { id: 'c2', owner: 'alice' });
    const { client, rec, handle } = await follow(s, p, 'c2', { transports: ['longpoll'] });
    await updates(s, 'c2', 0, 50);
    await waitFor('the first 50', () => rec.offsets.at(-1) === 51);
    // Shutdown answers the waiting poll at once; the next polls (from the same position)
    // fail while the server is down (the transport is replaced) or reach the new one.
    await s.restart();
    await updates(s, 'c2', 50, 100);
    await waitFor('every event', () => rec.offsets.at(-1) === 151, 30_000);
    expect(client.transport).toBe('longpoll');
    expect(rec.offsets).toEqual(Array.from({ length: 150 }, (_, i) => i + 2));
    expect(rec.resyncs).toBe(0);
    expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/c2'));
  });

  it('after the retry interval the client tries the WebSocket again, and stays on it once it works', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startHttpProxy(s.port, { upgrade: 'refuse' }));
    await api(base(s), 'POST', '/tasks', { id: 'd1', owner: 'alice' });
    const { client, rec, states, handle } = await follow(s, p, 'd1', { fallback: { retryFirstMs: 1_000 } });
    expect(client.transport).toBe('sse');
    await updates(s, 'd1', 0, 20);
    await waitFor('the first 20', () => rec.offsets.at(-1) === 21);
    p.setUpgrade('forward'); // the network lets WebSockets through again
    const during = updates(s, 'd1', 20, 100); // published while the client switches
    await waitFor('on the WebSocket', () => client.transport === 'websocket' && client.state === 'connected', 30_000);
    await during;
    await updates(s, 'd1', 120, 20);
    await waitFor('every event', () => rec.offsets.at(-1) === 141, 30_000);
    expect(states.some((e) => e.code === 3009)).toBe(true); // the SSE session was replaced on purpose
    expect(rec.offsets).toEqual(Array.from({ length: 140 }, (_, i) => i + 2));
    expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/d1'));
  });

  for (const transport of ['sse', 'longpoll'] as const) {
    it(`history trimmed while away (${transport}): the snapshot, one resync notice, then gapless`, async () => {
      const s = (server = await restartable({ historySize: 10 }));
      const p = (proxy = await startHttpProxy(s.port, { upgrade: 'refuse' }));
      await api(base(s), 'POST', '/tasks', { id: 'e1', owner: 'alice' });
      const { client, rec, handle } = await follow(s, p, 'e1', { transports: [transport] });
      await updates(s, 'e1', 0, 5);
      await waitFor('the first 5', () => rec.offsets.at(-1) === 6);
      p.outage(true); // the client is cut off; the server keeps publishing
      await updates(s, 'e1', 5, 30); // offsets 7-36; history keeps only 27-36
      p.outage(false);
      await waitFor('the resync', () => rec.resyncs === 1, 30_000);
      expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/e1'));
      await updates(s, 'e1', 35, 10);
      await waitFor('every later event', () => rec.offsets.at(-1) === 46, 30_000);
      expect(rec.offsets).toEqual([2, 3, 4, 5, 6, ...Array.from({ length: 10 }, (_, i) => i + 37)]);
      expect(handle.snapshot).toEqual(await api<Task>(base(s), 'GET', '/tasks/e1'));
      expect(client.transport).toBe(transport);
      if (transport === 'sse') {
        // The stream answered `resync` after its reply; the resubscribe continued from the resync's position.
        expect(p.requests.some((r) => /task%3Ae1\/events\?ticket=[^&]+&lastEventId=[^&]+%3A36$/.test(r))).toBe(true);
      }
    });

    it(`rooms, publish and the user feed over ${transport}; nothing left on the server after disconnect`, async () => {
      const s = (server = await restartable());
      const p = (proxy = await startHttpProxy(s.port, { upgrade: 'refuse' }));
      const token = await signDevToken(s.current.ctx.config, {
        sub: 'alice',
        channels: ['room:*'],
        publish: ['room:*'],
      });
      const client = createClient({
        url: `ws://127.0.0.1:${p.port}/api/v1/ws`,
        token,
        transports: [transport],
        EventSource,
        backoff: FAST,
      });
      clients.push(client);
      const rec = new Recorder(client);
      client.connect();
      await api(base(s), 'POST', '/tasks', { id: 'g0', owner: 'alice' });
      const room = client.channel('room:r1');
      room.subscribe(rec.listener);
      const feed = client.tasks();
      await waitFor('subscribed', () => room.state === 'subscribed' && feed.state === 'subscribed');
      expect(feed.get('g0')?.id).toBe('g0'); // loaded with the feed's history
      for (let i = 0; i < 20; i++) expect(await room.publish({ i })).toMatchObject({ offset: i + 1 });
      await waitFor('every published event', () => rec.offsets.length === 20);
      expect(rec.events.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(rec.isExactly(20)).toBe(true);
      await api(base(s), 'POST', '/tasks', { id: 'g1', owner: 'alice' });
      await waitFor('the feed', () => feed.get('g1') !== undefined);
      await expect(client.channel('room:nope').publish(1)).resolves.toMatchObject({ offset: 1 });
      const other = client.channel('user:bob');
      await waitFor('refused', () => other.state === 'unsubscribed');
      expect(other.error?.code).toBe('forbidden');
      await expect(client.task('nope').done()).rejects.toMatchObject({ code: 'not_found' });
      client.disconnect();
      await waitFor('no SSE stream or poll left', () => {
        const { sse, longpoll } = s.current.stats().connectionsByTransport;
        return sse === 0 && longpoll === 0;
      });
    });
  }

  for (const transport of ['sse', 'longpoll'] as const) {
    it(`an expired token over ${transport}: 4001, getToken() once, then unauthorized and quiet`, async () => {
      const s = (server = await restartable());
      const p = (proxy = await startHttpProxy(s.port));
      const expired = await tokenFor(s.current, { sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 });
      let calls = 0;
      const client = createClient({
        url: `ws://127.0.0.1:${p.port}/api/v1/ws`,
        token: expired,
        getToken: () => {
          calls += 1;
          return expired; // refused again
        },
        transports: [transport],
        EventSource,
        backoff: FAST,
      });
      clients.push(client);
      const states: StateEvent[] = [];
      client.on('state', (e) => states.push(e));
      client.connect();
      await waitFor('unauthorized', () => client.state === 'unauthorized');
      expect(calls).toBe(1);
      // connecting (attempt, 4001, getToken(), attempt) → unauthorized on the second 4001.
      expect(states.map((e) => [e.newState, e.code])).toEqual([
        ['connecting', 0],
        ['unauthorized', 4001],
      ]);
      expect(states.every((e) => e.transport === transport)).toBe(true);
      const seen = p.requests.length;
      await new Promise((r) => setTimeout(r, 500));
      expect(p.requests.length).toBe(seen);
    });
  }
});
