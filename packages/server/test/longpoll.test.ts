/**
 * Long-polling (docs/protocol.md §4, `GET /channels/:channel/history?since=…&wait=…`)
 * against a real server: answers because of an event (the event is in the body),
 * `events: []` at the timeout, recovery with `since`, `recovered: false` for a
 * trimmed position, a gapless sequence under concurrent publishing, cleanup on
 * client abort and on shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type ApiResponse, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/ws-client.js';

let seq = 0;
const uid = (p: string): string => `${p}-${++seq}-${Date.now().toString(36)}`;

async function position(t: TestServer, channel: string): Promise<{ epoch: string; offset: number }> {
  const res = await t.api('GET', `/channels/${channel}/history?limit=0`);
  expect(res.status).toBe(200);
  return { epoch: res.body.epoch as string, offset: res.body.offset as number };
}

const poll = (t: TestServer, channel: string, query: string, signal?: AbortSignal): Promise<ApiResponse> =>
  t.api('GET', `/channels/${channel}/history?${query}`, undefined, signal ? { signal } : {});

async function idle(t: TestServer): Promise<void> {
  await eventually(
    () => {
      const s = t.server.stats();
      return s.connections === 0 && s.subscriptions === 0 && s.engineSubscriptions === 0 && s.timers === 0;
    },
    `nothing left waiting (stats: ${JSON.stringify(t.server.stats())})`,
  );
}

describe('long-poll', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('a waiting request answers with the event published while it waits', async () => {
    const channel = `room:${uid('lp')}`;
    const at = await position(t, channel);
    const pending = poll(t, channel, `since=${at.epoch}:${at.offset}&wait=30`);
    await eventually(() => t.server.stats().connectionsByTransport.longpoll === 1, 'the request is waiting');
    await t.server.ctx.engine.publish({ channel, data: { hello: 1 } });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      channel,
      epoch: at.epoch,
      offset: at.offset + 1,
      recovered: true,
      events: [{ type: 'event', channel, epoch: at.epoch, offset: at.offset + 1, data: { hello: 1 } }],
    });
    expect(res.body.events).toHaveLength(1);
    await idle(t);
  });

  it('answers events: [] at the position after `wait` when nothing is published', async () => {
    const channel = `room:${uid('empty')}`;
    await t.server.ctx.engine.publish({ channel, data: { old: true } });
    const at = await position(t, channel);
    const res = await poll(t, channel, `since=${at.epoch}:${at.offset}&wait=0.3`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ channel, epoch: at.epoch, offset: at.offset, recovered: true, events: [] });
    await idle(t);
  });

  it('answers at once with the events after `since` (up to limit), and the latest `limit` without `since`', async () => {
    const channel = `room:${uid('now')}`;
    const at = await position(t, channel);
    for (let i = 1; i <= 5; i++) await t.server.ctx.engine.publish({ channel, data: { i } });
    const res = await poll(t, channel, `since=${at.epoch}:${at.offset + 1}&limit=3&wait=30`);
    expect(res.body.recovered).toBe(true);
    expect((res.body.events as Array<{ data: { i: number } }>).map((e) => e.data.i)).toEqual([2, 3, 4]);
    const latest = await poll(t, channel, 'limit=2&wait=30');
    expect((latest.body.events as Array<{ data: { i: number } }>).map((e) => e.data.i)).toEqual([4, 5]);
    expect(t.server.stats().connectionsByTransport.longpoll).toBe(0);
  });

  it('polling in a loop with since sees a gapless, duplicate-free sequence under concurrent publishing', async () => {
    const channel = `room:${uid('loop')}`;
    let since = await position(t, channel);
    const total = 150;
    const publisher = (async () => {
      for (let i = 1; i <= total; i++) {
        await t.server.ctx.engine.publish({ channel, data: { i } });
        if (i % 7 === 0) await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const seen: number[] = [];
    while (seen.length < total) {
      const res = await poll(t, channel, `since=${since.epoch}:${since.offset}&limit=10&wait=10`);
      expect(res.body.recovered).toBe(true);
      const events = res.body.events as Array<{ epoch: string; offset: number; data: { i: number } }>;
      for (const e of events) seen.push(e.data.i);
      // `offset` is the channel's position; with `limit`, continue from the last event received.
      const last = events[events.length - 1];
      since = last ? { epoch: last.epoch, offset: last.offset } : { epoch: res.body.epoch, offset: res.body.offset };
    }
    await publisher;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await idle(t);
  });

  it('a client that aborts while waiting leaves nothing behind', async () => {
    const channel = `room:${uid('abort')}`;
    const at = await position(t, channel);
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const pending = controllers.map((ac) =>
      poll(t, channel, `since=${at.epoch}:${at.offset}&wait=60`, ac.signal).catch((err: unknown) => err),
    );
    await eventually(() => t.server.stats().connectionsByTransport.longpoll === 20, 'all waiting');
    expect(t.server.stats()).toMatchObject({ subscriptions: 20, channels: 1, timers: 20 });
    for (const ac of controllers) ac.abort();
    await Promise.all(pending);
    await idle(t);
    expect(t.server.stats().channels).toBe(0);
  });
});

describe('long-poll: positions that cannot be recovered, shutdown', () => {
  it('answers recovered:false and no events for a trimmed position, at once', async () => {
    const t = await startTestServer({ historySize: 3 });
    try {
      const channel = `room:${uid('trim')}`;
      const at = await position(t, channel);
      for (let i = 1; i <= 10; i++) await t.server.ctx.engine.publish({ channel, data: { i } });
      const res = await poll(t, channel, `since=${at.epoch}:${at.offset + 1}&wait=30`);
      expect(res.body).toMatchObject({ recovered: false, events: [], offset: at.offset + 10 });
      const other = await poll(t, channel, `since=other-epoch:1&wait=30`);
      expect(other.body).toMatchObject({ recovered: false, events: [] });
      await idle(t);
    } finally {
      await t.close();
    }
  });

  it('shutdown answers every waiting request at once with events: []', async () => {
    const t = await startTestServer();
    const channel = `room:${uid('bye')}`;
    const at = await position(t, channel);
    const pending = Array.from({ length: 5 }, () => poll(t, channel, `since=${at.epoch}:${at.offset}&wait=60`));
    await eventually(() => t.server.stats().connectionsByTransport.longpoll === 5, 'all waiting');
    await t.close();
    for (const res of await Promise.all(pending)) {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ recovered: true, events: [], offset: at.offset });
    }
    expect(t.server.stats()).toMatchObject({ connections: 0, subscriptions: 0, timers: 0 });
  });
});
