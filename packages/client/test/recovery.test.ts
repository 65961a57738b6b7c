/**
 * Recovery against the real server: a restart (1012, same engine so epochs and
 * history persist), a slow-consumer close (4009) and a cut TCP connection (1006)
 * each end with a gapless, duplicate-free sequence of events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { createClient, type TaskwireClient } from '../src/index.js';
import { api, tokenFor } from './helpers/http.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { Recorder } from './helpers/recorder.js';
import { restartable, type Restartable } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const FAST = { minMs: 20, maxMs: 300, longMinMs: 100 };
let server: Restartable | undefined;
let proxy: TestProxy | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
  await server?.close();
  proxy = server = undefined;
});

async function follow(
  s: Restartable,
  url: string,
  taskId: string,
): Promise<{ client: TaskwireClient; rec: Recorder; snapshot: () => Task | null | undefined }> {
  const client = createClient({ url, token: await tokenFor(s.current, { sub: 'alice' }), backoff: FAST });
  clients.push(client);
  const rec = new Recorder(client);
  client.connect();
  const handle = client.task(taskId);
  handle.subscribe(rec.listener);
  await waitFor('subscribed', () => handle.state === 'subscribed');
  return { client, rec, snapshot: () => handle.snapshot };
}

const base = (s: Restartable): string => `http://127.0.0.1:${s.port}`;
const wsUrl = (port: number): string => `ws://127.0.0.1:${port}/api/v1/ws`;

describe('recovery', () => {
  it('a server restart (1012) mid-stream: the client resumes gapless and duplicate-free', async () => {
    const s = (server = await restartable());
    await api(base(s), 'POST', '/tasks', { id: 't1', owner: 'alice' });
    const { client, rec, snapshot } = await follow(s, wsUrl(s.port), 't1');
    let n = 1; // task.created is offset 1, delivered before we subscribed
    const update = async (): Promise<void> => {
      n += 1;
      await api(base(s), 'PATCH', '/tasks/t1', { status: 'running', progress: n % 100 });
    };
    for (let i = 0; i < 50; i++) await update();
    await s.restart();
    for (let i = 0; i < 50; i++) await update(); // while the client is away
    await waitFor('reconnected', () => client.state === 'connected');
    for (let i = 0; i < 50; i++) await update();
    await waitFor('every event', () => rec.offsets.at(-1) === n);
    expect(rec.codes).toContain(1012);
    expect(rec.offsets).toEqual(Array.from({ length: n - 1 }, (_, i) => i + 2));
    expect(rec.resyncs).toBe(0);
    const server_ = await api<Task>(base(s), 'GET', '/tasks/t1');
    expect(snapshot()).toEqual(server_);
  });

  it('a slow consumer closed with 4009 reconnects and recovers', async () => {
    const s = (server = await restartable({ sendBufferBytes: 64 * 1024, historySize: 5000, recoveryLimit: 5000 }));
    const p = (proxy = await startProxy(s.port));
    const client = createClient({
      url: wsUrl(p.port),
      token: await tokenFor(s.current, { sub: 'alice', channels: ['room:*'] }),
      backoff: FAST,
    });
    clients.push(client);
    const rec = new Recorder(client);
    client.connect();
    const room = client.channel('room:big');
    room.subscribe(rec.listener);
    await waitFor('subscribed', () => room.state === 'subscribed');
    p.pauseServer(true);
    const blob = 'x'.repeat(60 * 1024);
    let published = 0;
    // Publish until the server gives up on the stalled socket (bounded).
    while (s.current.stats().slowConsumerCloses === 0 && published < 2000) {
      await api(base(s), 'POST', '/channels/room:big/publish', { data: { i: published, blob } });
      published += 1;
    }
    p.pauseServer(false);
    expect(s.current.stats().slowConsumerCloses).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) {
      await api(base(s), 'POST', '/channels/room:big/publish', { data: { i: published, blob: '' } });
      published += 1;
    }
    await waitFor('every event', () => rec.offsets.at(-1) === published, 30_000);
    expect(rec.codes[0]).toBe(4009);
    expect(rec.isExactly(published)).toBe(true);
    expect(rec.events.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: published }, (_, i) => i));
  });

  it('a cut TCP connection (1006) reconnects and recovers, and a restart after it too', async () => {
    const s = (server = await restartable());
    const p = (proxy = await startProxy(s.port));
    await api(base(s), 'POST', '/tasks', { id: 't2', owner: 'alice' });
    const { client, rec } = await follow(s, wsUrl(p.port), 't2');
    let n = 1;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) {
        n += 1;
        await api(base(s), 'PATCH', '/tasks/t2', { status: 'running', progress: n });
      }
      if (round === 0) p.cutAll();
      if (round === 1) await s.restart();
      await waitFor('reconnected', () => client.state === 'connected' && rec.codes.length >= Math.min(round + 1, 2));
    }
    await waitFor('every event', () => rec.offsets.at(-1) === n);
    expect(rec.codes).toEqual(expect.arrayContaining([1006, 1012]));
    expect(rec.offsets).toEqual(Array.from({ length: n - 1 }, (_, i) => i + 2));
    expect(p.accepted).toBeGreaterThanOrEqual(3);
  });
});
