/**
 * Positions, recovery and gapless subscribe against a real server and real clients
 * (failure modes 7 and 8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient, eventually, type Frame } from './helpers/ws-client.js';

/** Publish `count` events over one connection, keeping up to `window` requests in flight. */
async function publishMany(
  c: TestClient,
  channel: string,
  count: number,
  window = 50,
  onSent?: () => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const r = await c.request({ op: 'publish', channel, data: { i } });
      if (!r.result) throw new Error(`publish failed: ${JSON.stringify(r)}`);
      onSent?.();
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

const offsetsOf = (events: Frame[]): number[] => events.map((e) => e.offset as number);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('recovery with since', () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ historySize: 300, recoveryLimit: 250 });
    token = await t.token({ sub: 'alice', channels: ['room:*'], publish: ['room:*'] });
  });
  afterAll(() => t.close());

  it('a client away while 200 events are published gets exactly those 200, in order', async () => {
    const c = await TestClient.authed(t.wsUrl, token);
    const sub = await c.request({ op: 'subscribe', channel: 'room:away' });
    const pub = await TestClient.authed(t.wsUrl, token);
    await publishMany(pub, 'room:away', 3, 1);
    const seen = [
      await c.next((f) => f.type === 'event'),
      await c.next((f) => f.type === 'event'),
      await c.next((f) => f.type === 'event'),
    ];
    expect(offsetsOf(seen)).toEqual([1, 2, 3]);
    c.destroy(); // gone without a goodbye

    for (let i = 0; i < 200; i++) await t.api('POST', '/channels/room:away/publish', { data: { away: i } });
    const back = await TestClient.authed(t.wsUrl, token);
    const since = { epoch: sub.result.epoch as string, offset: 3 };
    const r = await back.request({ op: 'subscribe', channel: 'room:away', since });
    expect(r.result).toMatchObject({ channel: 'room:away', epoch: since.epoch, offset: 203, recovered: true });
    expect(offsetsOf(r.result.events as Frame[])).toEqual(range(4, 203));
    expect((r.result.events as Frame[]).map((e) => (e.data as { away: number }).away)).toEqual(range(0, 199));
    // Live events continue right after the reply's offset.
    await publishMany(pub, 'room:away', 1, 1);
    expect(await back.next((f) => f.type === 'event')).toMatchObject({ offset: 204 });
    back.close();
    pub.close();
  });

  it('answers recovered:false with the snapshot beyond the history size or with another epoch', async () => {
    await t.api('POST', '/tasks', { id: 'long-1', owner: 'alice' });
    const c = await TestClient.authed(t.wsUrl, token);
    const sub = await c.request({ op: 'subscribe', channel: 'task:long-1' });
    const epoch = sub.result.epoch as string;
    c.close();
    for (let i = 1; i <= 305; i++) await t.api('PATCH', '/tasks/long-1', { progress: i / 10 });
    const back = await TestClient.authed(t.wsUrl, token);
    const trimmed = await back.request({ op: 'subscribe', channel: 'task:long-1', since: { epoch, offset: 1 } });
    expect(trimmed.result).toMatchObject({
      recovered: false,
      events: [],
      offset: 306,
      snapshot: { id: 'long-1', progress: 30.5 },
    });
    const other = await back.request({
      op: 'subscribe',
      channel: 'task:long-1',
      since: { epoch: 'another-epoch', offset: 306 },
    });
    expect(other.error).toMatchObject({ code: 'bad_request' }); // already subscribed on this connection
    const again = await TestClient.authed(t.wsUrl, token);
    const r = await again.request({
      op: 'subscribe',
      channel: 'task:long-1',
      since: { epoch: 'another-epoch', offset: 306 },
    });
    expect(r.result).toMatchObject({ recovered: false, events: [], epoch, offset: 306, snapshot: { version: 306 } });
    back.close();
    again.close();
  });

  it('answers recovered:false when more than the recovery limit were missed, and true at the limit', async () => {
    const c = await TestClient.authed(t.wsUrl, token);
    const pub = await TestClient.authed(t.wsUrl, token);
    await publishMany(pub, 'room:limit', 10);
    const epoch = (await c.request({ op: 'subscribe', channel: 'room:limit' })).result.epoch as string;
    await publishMany(pub, 'room:limit', 251); // offsets 11..261
    const a = await TestClient.authed(t.wsUrl, token);
    const over = await a.request({ op: 'subscribe', channel: 'room:limit', since: { epoch, offset: 10 } });
    expect(over.result).toMatchObject({ recovered: false, events: [], offset: 261 });
    expect(over.result).not.toHaveProperty('snapshot');
    const b = await TestClient.authed(t.wsUrl, token);
    const at = await b.request({ op: 'subscribe', channel: 'room:limit', since: { epoch, offset: 11 } });
    expect(at.result).toMatchObject({ recovered: true, offset: 261 });
    expect(offsetsOf(at.result.events as Frame[])).toEqual(range(12, 261));
    for (const x of [a, b, c, pub]) x.close();
  });

  it('returns the N latest events with history and no since (recovered absent)', async () => {
    const pub = await TestClient.authed(t.wsUrl, token);
    await publishMany(pub, 'room:latest', 30);
    const r = await pub.request({ op: 'subscribe', channel: 'room:latest', history: 5 });
    expect(r.result).not.toHaveProperty('recovered');
    expect(offsetsOf(r.result.events as Frame[])).toEqual([26, 27, 28, 29, 30]);
    expect(r.result.events[0]).toMatchObject({
      type: 'event',
      channel: 'room:latest',
      data: { i: expect.any(Number) as number },
    });
    pub.close();
  });
});

describe('failure mode 8: gapless subscribe under concurrent publishing', () => {
  it('50 clients subscribing while 10,000 events are published by 4 concurrent publishers each see a gapless, duplicate-free sequence from their reply offset', async () => {
    const t = await startTestServer({ maxConnectionsPerUser: 200 });
    try {
      const token = await t.token({ sub: 'alice', channels: ['room:*'], publish: ['room:*'] });
      const channel = 'room:storm';
      const total = 10_000;
      const publishers = await Promise.all([1, 2, 3, 4].map(() => TestClient.authed(t.wsUrl, token)));
      let sent = 0;
      const results: Array<{ from: number; offsets: number[] }> = [];
      const subscribers = Array.from({ length: 50 }, async (_, i) => {
        await eventually(() => sent >= i * 190, `publishing reached ${i * 190}`, 60_000);
        const offsets: number[] = [];
        const c = await TestClient.authed(t.wsUrl, token, {
          inbox: (f) => f.type !== 'event',
          onFrame: (f) => {
            if (f.type === 'event') offsets.push(f.offset as number);
          },
        });
        const r = await c.request({ op: 'subscribe', channel });
        const entry = { from: r.result.offset as number, offsets };
        results.push(entry);
        await eventually(() => entry.from + offsets.length >= total, `client ${i} received up to ${total}`, 60_000);
        c.close();
      });
      await Promise.all(publishers.map((p) => publishMany(p, channel, total / 4, 25, () => (sent += 1))));
      await Promise.all(subscribers);
      expect(results).toHaveLength(50);
      for (const { from, offsets } of results) {
        expect(offsets).toEqual(range(from + 1, total));
      }
      // Subscribes really did interleave with publishing.
      expect(results.some((r) => r.from > 0 && r.from < total)).toBe(true);
      for (const p of publishers) p.close();
      await eventually(() => t.server.stats().connections === 0, 'all connections closed');
      expect(t.server.stats()).toMatchObject({ subscriptions: 0, channels: 0, engineSubscriptions: 0, timers: 0 });
    } finally {
      await t.close();
    }
  });
});
