import WS from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { createClient, type TaskwireClient } from '../src/index.js';
import { waitFor } from './helpers/wait.js';

let server: TestServer | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

async function setup(sub = 'alice'): Promise<{ s: TestServer; client: TaskwireClient }> {
  const s = (server = await startTestServer());
  const client = createClient({ url: s.wsUrl, token: await s.token({ sub }) });
  clients.push(client);
  return { s, client };
}

describe('client against the real server', () => {
  it('connects, follows a task and resolves done() with the terminal snapshot', async () => {
    const { s, client } = await setup();
    const created = await s.api('POST', '/tasks', { id: 'job-1', owner: 'alice', title: 'Job' });
    expect(created.status).toBe(201);
    const states: string[] = [];
    client.on('state', (e) => states.push(e.newState));
    client.connect();
    const task = client.task('job-1');
    const seen: number[] = [];
    task.subscribe(() => {
      const snap = task.snapshot;
      if (snap && seen.at(-1) !== snap.version) seen.push(snap.version);
    });
    const done = task.done();
    await waitFor('the snapshot', () => task.snapshot !== undefined);
    expect(task.state).toBe('subscribed');
    for (const pct of [10, 50, 90]) await s.api('PATCH', '/tasks/job-1', { status: 'running', progress: pct });
    await s.api('PATCH', '/tasks/job-1', { status: 'succeeded', result: { ok: true } });
    const final: Task = await done;
    expect(final.status).toBe('succeeded');
    expect(final.result).toEqual({ ok: true });
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(states).toEqual(['connecting', 'connected']);
    task.release();
  });

  it('rejects done() with not_found for a task that is not the user’s', async () => {
    const { s, client } = await setup();
    await s.api('POST', '/tasks', { id: 'bobs', owner: 'bob' });
    client.connect();
    const task = client.task('bobs');
    await expect(task.done()).rejects.toMatchObject({ code: 'not_found' });
    expect(task.state).toBe('unsubscribed');
  });

  it('shares one server subscription between handles on the same task', async () => {
    const { s, client } = await setup();
    await s.api('POST', '/tasks', { id: 'shared', owner: 'alice' });
    client.connect();
    const a = client.task('shared');
    const b = client.task('shared');
    await waitFor('subscribed', () => a.state === 'subscribed' && b.state === 'subscribed');
    expect(s.server.stats().subscriptions).toBe(1);
    a.release();
    expect(b.state).toBe('subscribed');
    b.release();
    await waitFor('the server subscription to end', () => s.server.stats().subscriptions === 0);
  });

  it('keeps the user feed of tasks by id', async () => {
    const { s, client } = await setup();
    await s.api('POST', '/tasks', { id: 'old', owner: 'alice' });
    client.connect();
    const feed = client.tasks();
    await waitFor('the feed to load history', () => feed.get('old') !== undefined);
    await s.api('POST', '/tasks', { id: 'new', owner: 'alice' });
    await s.api('PATCH', '/tasks/new', { status: 'running', progress: 5 });
    await waitFor('the update', () => feed.get('new')?.progress === 5);
    const list = feed.getSnapshot();
    expect(feed.getSnapshot()).toBe(list);
    expect(list.map((t) => t.id).sort()).toEqual(['new', 'old']);
  });

  it('a feed handle opened after the feed loaded shares everything the first one holds', async () => {
    const { s, client } = await setup();
    await s.api('POST', '/tasks', { id: 'early', owner: 'alice' });
    client.connect();
    const first = client.tasks();
    await waitFor('the feed to load', () => first.get('early') !== undefined);
    const second = client.tasks();
    expect(second.get('early')?.id).toBe('early');
    expect(second.getSnapshot()).toBe(first.getSnapshot());
    first.release();
    await s.api('PATCH', '/tasks/early', { progress: 7 });
    await waitFor('the update on the remaining handle', () => second.get('early')?.progress === 7);
    expect(s.server.stats().subscriptions).toBe(1);
  });

  it('publishes to a room it may publish to and sees its own event', async () => {
    const s = (server = await startTestServer());
    const client = createClient({
      url: s.wsUrl,
      token: await s.token({ sub: 'alice', channels: ['room:*'], publish: ['room:*'] }),
    });
    clients.push(client);
    client.connect();
    const room = client.channel('room:lobby');
    const got: unknown[] = [];
    room.subscribe((n) => {
      if (n.type === 'event') got.push(n.event.data);
    });
    await waitFor('subscribed', () => room.state === 'subscribed');
    const pos = await room.publish({ hello: 1 });
    expect(pos.offset).toBe(1);
    await waitFor('the event', () => got.length === 1);
    expect(room.getSnapshot()?.data).toEqual({ hello: 1 });
  });

  it('works with the ws package as the WebSocket implementation', async () => {
    const s = (server = await startTestServer());
    await s.api('POST', '/tasks', { id: 'via-ws', owner: 'alice' });
    const client = createClient({ url: s.wsUrl, token: await s.token({ sub: 'alice' }), WebSocket: WS });
    clients.push(client);
    client.connect();
    const task = client.task('via-ws');
    await waitFor('the snapshot', () => task.snapshot?.id === 'via-ws');
    await s.api('PATCH', '/tasks/via-ws', { progress: 7 });
    await waitFor('the update', () => task.snapshot?.progress === 7);
  });

  it('a handle made before connect() subscribes on connect, and disconnect/connect resumes from its position', async () => {
    const { s, client } = await setup();
    await s.api('POST', '/tasks', { id: 'early', owner: 'alice' });
    const task = client.task('early');
    const offsets: number[] = [];
    task.subscribe((n) => {
      if (n.type === 'event') offsets.push(n.event.offset);
    });
    expect(task.state).toBe('subscribing');
    client.connect();
    await waitFor('subscribed', () => task.state === 'subscribed');
    await s.api('PATCH', '/tasks/early', { progress: 1 });
    await waitFor('offset 2', () => offsets.includes(2));
    client.disconnect();
    expect(client.state).toBe('disconnected');
    await s.api('PATCH', '/tasks/early', { progress: 2 });
    await s.api('PATCH', '/tasks/early', { progress: 3 });
    client.connect();
    await waitFor('the missed events', () => offsets.includes(4));
    expect(offsets).toEqual([2, 3, 4]);
    expect(task.snapshot?.progress).toBe(3);
  });
});
