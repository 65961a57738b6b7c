/**
 * Server-Sent Events (docs/protocol.md §4) against a real server, with a real EventSource
 * implementation (the `eventsource` package): snapshot and events, recovery with
 * Last-Event-ID (explicit, and the EventSource's own reconnect), resync for a
 * trimmed position, query credentials, HTTP errors before the stream starts, heartbeats,
 * slow consumers, leaks and shutdown.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SseClient, type SseMessage } from './helpers/sse-client.js';
import { eventually } from './helpers/ws-client.js';

let seq = 0;
const uid = (p: string): string => `${p}-${++seq}-${Date.now().toString(36)}`;
const offsets = (ms: SseMessage[]): number[] => ms.map((m) => m.data.offset as number);
const payloads = (ms: SseMessage[]): unknown[] => ms.map((m) => m.data.data as unknown);
const eventsUrl = (t: TestServer, channel: string, query = ''): string =>
  `${t.url}/api/v1/channels/${encodeURIComponent(channel)}/events${query}`;

async function noSseLeft(t: TestServer): Promise<void> {
  await eventually(
    () => {
      const s = t.server.stats();
      return s.connections === 0 && s.subscriptions === 0 && s.engineSubscriptions === 0 && s.timers === 0;
    },
    `no SSE leaks (stats: ${JSON.stringify(t.server.stats())})`,
  );
}

describe('SSE: snapshot, events and recovery', () => {
  let t: TestServer;
  let alice: string;
  beforeAll(async () => {
    t = await startTestServer();
    alice = await t.token({ sub: 'alice', channels: ['room:*'] });
  });
  afterAll(() => t.close());

  it('sends the task snapshot then events; after a disconnect, Last-Event-ID recovers exactly the missed events', async () => {
    const id = uid('sse');
    await t.api('POST', '/tasks', { id, owner: 'alice', title: 'Build' });
    const first = new SseClient(eventsUrl(t, `task:${id}`), { token: () => alice });
    const snap = await first.next((m) => m.type === 'snapshot', 'snapshot');
    expect(snap.data).toMatchObject({ channel: `task:${id}`, snapshot: { id, owner: 'alice', version: 1 } });
    expect(snap.lastEventId).toBe(`${snap.data.epoch}:${snap.data.offset}`);
    for (const progress of [10, 20]) await t.api('PATCH', `/tasks/${id}`, { status: 'running', progress });
    const live = await first.take(2);
    expect(offsets(live)).toEqual([snap.data.offset + 1, snap.data.offset + 2]);
    expect(live[1]!.data).toMatchObject({ type: 'event', channel: `task:${id}`, data: { kind: 'task.updated' } });
    expect(live[1]!.data.data.task.progress).toBe(20);
    const lastSeen = live[1]!.lastEventId;
    expect(lastSeen).toBe(`${snap.data.epoch}:${snap.data.offset + 2}`);
    first.close();
    await eventually(() => t.server.stats().connectionsByTransport.sse === 0, 'the stream is gone');

    for (const progress of [30, 40, 50]) await t.api('PATCH', `/tasks/${id}`, { progress });
    const second = new SseClient(eventsUrl(t, `task:${id}`), {
      token: () => alice,
      firstHeaders: { 'Last-Event-ID': lastSeen },
    });
    const missed = await second.take(3);
    const base = snap.data.offset as number;
    expect(offsets(missed)).toEqual([3, 4, 5].map((n) => base + n));
    expect(missed.map((m) => m.data.data.task.progress as number)).toEqual([30, 40, 50]);
    await t.api('PATCH', `/tasks/${id}`, { progress: 60 });
    const next = await second.next((m) => m.type === 'event', 'live event');
    expect(next.data.offset).toBe(snap.data.offset + 6);
    // Exactly the missed events and the live one: no snapshot, no resync, no duplicate.
    expect(second.pending).toEqual([]);
    second.close();
    await noSseLeft(t);
  });

  it("the stream ends at the token's expiry; EventSource reconnects by itself with Last-Event-ID and a fresh token, and recovers", async () => {
    const t2 = await startTestServer({ clockLeewaySec: 0 });
    try {
      const channel = `room:${uid('exp')}`;
      let token = await t2.token({ sub: 'alice', channels: ['room:*'], exp: Math.floor(Date.now() / 1000) + 2 });
      const es = new SseClient(eventsUrl(t2, channel), { token: () => token });
      await t2.server.ctx.engine.publish({ channel, data: { n: 1 } }); // may race the subscribe: not asserted
      await eventually(() => t2.server.stats().subscriptions === 1, 'subscribed');
      const { event } = await t2.server.ctx.engine.publish({ channel, data: { n: 2 } });
      const seen = await es.next((m) => m.type === 'event' && m.data.offset === event.offset, 'live event');
      await es.nextError(); // the token expired: the stream ended, a reconnect is scheduled
      token = await t2.token({ sub: 'alice', channels: ['room:*'] });
      await t2.server.ctx.engine.publish({ channel, data: { n: 3 } });
      await t2.server.ctx.engine.publish({ channel, data: { n: 4 } });
      const recovered = await es.take(2);
      expect(payloads(recovered)).toEqual([{ n: 3 }, { n: 4 }]);
      expect(es.requests).toHaveLength(2);
      expect(es.requests[1]!['Last-Event-ID']).toBe(seen.lastEventId);
      expect(es.pending.filter((m) => m.type !== 'event' || m.data.offset > event.offset + 2)).toEqual([]);
      es.close();
      await noSseLeft(t2);
    } finally {
      await t2.close();
    }
  });

  it('a non-task channel starts live from now, and its id-only first block lets a reconnect recover from the start', async () => {
    const channel = `room:${uid('room')}`;
    await t.server.ctx.engine.publish({ channel, data: { before: true } });
    const es = new SseClient(eventsUrl(t, channel, `?token=${alice}`));
    await eventually(() => t.server.stats().subscriptions === 1, 'subscribed');
    const { event } = await t.server.ctx.engine.publish({ channel, data: { after: true } });
    const live = await es.next((m) => m.type === 'event', 'live event');
    expect(live.data).toMatchObject({ offset: event.offset, data: { after: true } });
    expect(es.pending).toEqual([]);
    es.close();
    // `?lastEventId=` for clients that cannot set headers: the position before the live event.
    const again = new SseClient(
      eventsUrl(t, channel, `?token=${alice}&lastEventId=${event.epoch}:${event.offset - 1}`),
    );
    expect((await again.next()).data).toMatchObject({ offset: event.offset, data: { after: true } });
    again.close();
    await noSseLeft(t);
  });

  it('sets the SSE headers, a retry hint, and sends a ": ping" comment every heartbeatMs', async () => {
    const t2 = await startTestServer({ heartbeatMs: 1000 });
    const ac = new AbortController();
    try {
      const token = await t2.token({ sub: 'alice' });
      const res = await fetch(eventsUrl(t2, 'user:alice'), {
        headers: { authorization: `Bearer ${token}` },
        signal: ac.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes(': ping\n\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toMatch(/^retry: \d+\n\nid: [A-Za-z0-9_-]+:\d+\n\n/);
      ac.abort();
      await noSseLeft(t2);
    } finally {
      ac.abort();
      await t2.close();
    }
  });
});

describe('SSE: a position that cannot be recovered', () => {
  it('a trimmed position gets event: resync with the snapshot and the current position, then live events', async () => {
    const t = await startTestServer({ historySize: 3 });
    try {
      const alice = await t.token({ sub: 'alice' });
      const id = uid('trim');
      await t.api('POST', '/tasks', { id, owner: 'alice' });
      const first = new SseClient(eventsUrl(t, `task:${id}`), { token: () => alice });
      const snap = await first.next((m) => m.type === 'snapshot', 'snapshot');
      first.close();
      for (let p = 1; p <= 10; p++) await t.api('PATCH', `/tasks/${id}`, { progress: p });
      const es = new SseClient(eventsUrl(t, `task:${id}`), {
        token: () => alice,
        firstHeaders: { 'Last-Event-ID': snap.lastEventId },
      });
      const resync = await es.next((m) => m.type === 'resync', 'resync');
      expect(resync.data).toMatchObject({
        channel: `task:${id}`,
        epoch: snap.data.epoch,
        offset: snap.data.offset + 10,
        snapshot: { id, progress: 10, version: 11 },
      });
      expect(resync.lastEventId).toBe(`${snap.data.epoch}:${snap.data.offset + 10}`);
      await t.api('PATCH', `/tasks/${id}`, { progress: 11 });
      expect((await es.next((m) => m.type === 'event', 'live event')).data.offset).toBe(snap.data.offset + 11);
      expect(es.pending).toEqual([]);
      es.close();

      // Another epoch, and a malformed id, resync alike.
      for (const lastEventId of ['other-epoch:1', 'garbage']) {
        const c = new SseClient(eventsUrl(t, `task:${id}`), {
          token: () => alice,
          firstHeaders: { 'Last-Event-ID': lastEventId },
        });
        expect((await c.next()).type).toBe('resync');
        c.close();
      }
      await noSseLeft(t);
    } finally {
      await t.close();
    }
  });
});

describe('SSE: authentication and permissions', () => {
  let t: TestServer;
  let alice: string;
  beforeAll(async () => {
    t = await startTestServer();
    alice = await t.token({ sub: 'alice' });
  });
  afterAll(() => t.close());

  it('accepts ?ticket= once (a used ticket is 401), and the API key', async () => {
    const id = uid('tk');
    await t.api('POST', '/tasks', { id, owner: 'alice' });
    const { body } = await t.api('POST', '/tickets', undefined, { token: alice });
    const es = new SseClient(eventsUrl(t, `task:${id}`, `?ticket=${encodeURIComponent(body.ticket as string)}`));
    expect((await es.next()).data.snapshot.id).toBe(id);
    es.close();
    const reused = await fetch(eventsUrl(t, `task:${id}`, `?ticket=${encodeURIComponent(body.ticket as string)}`));
    expect(reused.status).toBe(401);
    expect(((await reused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const backend = new SseClient(eventsUrl(t, `task:${id}`), { token: () => t.apiKey });
    expect((await backend.next()).type).toBe('snapshot');
    backend.close();
    await noSseLeft(t);
  });

  it('answers 401, 403 forbidden, 404 not_found and 400 as JSON before the stream starts; EventSource does not retry them', async () => {
    const bobTask = uid('bob');
    await t.api('POST', '/tasks', { id: bobTask, owner: 'bob' });
    const cases: Array<[string, string | null, number, string]> = [
      ['user:alice', null, 401, 'unauthorized'],
      ['user:alice', 'not-a-jwt', 401, 'unauthorized'],
      ['user:bob', alice, 403, 'forbidden'],
      ['room:secret', alice, 403, 'forbidden'],
      [`task:${bobTask}`, alice, 404, 'not_found'],
      ['task:does-not-exist', alice, 404, 'not_found'],
      ['nope:x', alice, 400, 'bad_request'],
    ];
    for (const [channel, token, status, code] of cases) {
      const res = await fetch(eventsUrl(t, channel), { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.status, channel).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code, channel).toBe(code);
    }
    const es = new SseClient(eventsUrl(t, 'user:bob'), { token: () => alice });
    await es.nextError();
    expect(es.errors[0]!.code).toBe(403);
    expect(es.es.readyState).toBe(es.es.CLOSED);
    await noSseLeft(t);
  });
});

describe('SSE: resources', () => {
  it('leaves no subscriptions, connections or timers after 300 connects and disconnects while events stream', async () => {
    const t = await startTestServer();
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'], exp: Math.floor(Date.now() / 1000) + 3600 });
      const channels = ['room:leak-a', 'room:leak-b'];
      let publishing = true;
      const publisher = (async () => {
        let i = 0;
        while (publishing) {
          await t.server.ctx.engine.publish({ channel: channels[i++ % 2]!, data: { i } });
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      })();
      for (let round = 0; round < 6; round++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const ac = new AbortController();
            const res = fetch(eventsUrl(t, channels[i % 2]!), {
              headers: { authorization: `Bearer ${token}` },
              signal: ac.signal,
            });
            if (i % 3 === 0) {
              ac.abort(); // gone while authenticating or subscribing
              await res.catch(() => undefined);
              return;
            }
            const r = await res;
            const reader = r.body!.getReader();
            await reader.read(); // the preamble
            if (i % 3 === 1) await reader.read().catch(() => undefined); // and maybe an event
            ac.abort();
          }),
        );
      }
      publishing = false;
      await publisher;
      await noSseLeft(t);
      expect(t.server.stats()).toMatchObject({ connections: 0, subscriptions: 0, channels: 0, timers: 0 });
    } finally {
      await t.close();
    }
  });

  it('a slow consumer (a client that never reads) is cut off at sendBufferBytes and counted; others are unaffected', async () => {
    const t = await startTestServer({ sendBufferBytes: 512 * 1024, historySize: 10 });
    let raw: Socket | undefined;
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'] });
      const channel = 'room:slow';
      const port = new URL(t.url).port;
      raw = connect(Number(port), '127.0.0.1');
      raw.on('error', () => undefined);
      raw.write(
        `GET /api/v1/channels/${channel}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      raw.pause(); // never read
      const reader = new SseClient(eventsUrl(t, channel), { token: () => token });
      await eventually(() => t.server.stats().subscriptions === 2, 'both subscribed');
      const big = 'x'.repeat(32 * 1024);
      let published = 0;
      while (t.server.stats().slowConsumerCloses === 0 && published < 5000) {
        await t.server.ctx.engine.publish({ channel, data: { big, n: published++ } });
        if (published % 2 === 0) await new Promise((r) => setTimeout(r, 1)); // the reader keeps up
      }
      expect(t.server.stats().slowConsumerCloses).toBe(1);
      await eventually(() => t.server.stats().connectionsByTransport.sse === 1, 'the slow stream is gone');
      const last = await reader.next((m) => m.type === 'event' && m.data.data.n === published - 1, 'the last event');
      expect(last.data.data.big).toHaveLength(big.length);
      reader.close();
      await noSseLeft(t);
    } finally {
      raw?.destroy();
      await t.close();
    }
  });

  it('limits SSE streams per user (429 limit_exceeded) and frees the slot when a stream ends', async () => {
    const t = await startTestServer({ maxConnectionsPerUser: 2 });
    try {
      const token = await t.token({ sub: 'alice' });
      const open = [1, 2].map(() => new SseClient(eventsUrl(t, 'user:alice'), { token: () => token }));
      await eventually(() => t.server.stats().connectionsByTransport.sse === 2, 'two streams');
      const refused = await fetch(eventsUrl(t, 'user:alice'), { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('limit_exceeded');
      open[0]!.close();
      await eventually(() => t.server.stats().connectionsByTransport.sse === 1, 'one left');
      const again = new SseClient(eventsUrl(t, 'user:alice'), { token: () => token });
      await eventually(() => t.server.stats().connectionsByTransport.sse === 2, 'a new one');
      again.close();
      open[1]!.close();
      await noSseLeft(t);
    } finally {
      await t.close();
    }
  });

  it('graceful shutdown ends every stream (the client sees the end and would reconnect)', async () => {
    const t = await startTestServer();
    const token = await t.token({ sub: 'alice' });
    const clients = Array.from({ length: 5 }, () => new SseClient(eventsUrl(t, 'user:alice'), { token: () => token }));
    await eventually(() => t.server.stats().connectionsByTransport.sse === 5, 'all streams open');
    const ended = Promise.all(clients.map((c) => c.nextError()));
    await t.close();
    await ended;
    expect(t.server.stats()).toMatchObject({ connections: 0, subscriptions: 0, timers: 0 });
    for (const c of clients) c.close();
  });
});
