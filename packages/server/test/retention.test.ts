/**
 * Retention over the real server (protocol 1.1 §8), on the memory and SQLite engines:
 * with `--task-ttl 2s` a finished tree disappears with its history and streams while
 * running tasks are untouched; a deleted task answers 404 everywhere, its WebSocket and
 * SSE subscribers get `unsubscribed` with `reason: "deleted"` and the owner's feed
 * `task.deleted`; `DELETE /tasks/:id` refuses what has not ended (409) and bad input
 * with its code, changing nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SseClient } from './helpers/sse-client.js';
import { TestClient } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const eventsUrl = (t: TestServer, channel: string): string =>
  `${t.url}/api/v1/channels/${encodeURIComponent(channel)}/events`;

/** A batch (root, two children) that has ended, with a stream on the root. */
async function finishedBatch(t: TestServer, prefix: string, owner: string): Promise<string[]> {
  const ids = [`${prefix}-root`, `${prefix}-a`, `${prefix}-b`];
  expect((await t.api('POST', '/tasks', { id: ids[0], owner, batch: {} })).status).toBe(201);
  for (const id of ids.slice(1)) {
    expect((await t.api('POST', '/tasks', { id, owner, parentId: ids[0] })).status).toBe(201);
  }
  expect((await t.api('POST', `/tasks/${ids[0]}/stream`, { text: 'the outline' })).status).toBe(200);
  for (const id of [...ids.slice(1), ids[0]]) {
    expect((await t.api('PATCH', `/tasks/${id}`, { status: 'running' })).status).toBe(200);
    expect((await t.api('PATCH', `/tasks/${id}`, { status: 'succeeded' })).status).toBe(200);
  }
  return ids;
}

describe.each(['memory', 'sqlite'] as const)('retention on %s', (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine, db: join(dir, `${engine}.db`), taskTtlMs: 2000 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('--task-ttl 2s: a finished tree disappears with its history and streams; running tasks stay; subscribers are told', async () => {
    const alice = await t.token({ sub: 'alice' });
    const ids = await finishedBatch(t, `ttl-${engine}`, 'alice');
    const running = `ttl-${engine}-running`;
    await t.api('POST', '/tasks', { id: running, owner: 'alice', stallTimeoutMs: 0 });
    await t.api('PATCH', `/tasks/${running}`, { progress: 5 });
    const before = (await t.api('GET', `/tasks/${running}`)).body as Task;

    const ws = await TestClient.authed(t.wsUrl, alice);
    for (const id of ids) expect((await ws.request({ op: 'subscribe', channel: `task:${id}` })).result).toBeDefined();
    await ws.request({ op: 'subscribe', channel: 'user:alice' });
    const sse = new SseClient(eventsUrl(t, `task:${ids[1]!}`), { token: () => alice });
    await sse.next((m) => m.type === 'snapshot', 'snapshot');

    // Gone within the TTL plus a sweep interval or two.
    const deadline = Date.now() + 10_000;
    while ((await t.api('GET', `/tasks/${ids[0]!}`)).status !== 404) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const id of ids) {
      const ended = await ws.next((f) => f.type === 'unsubscribed' && f.channel === `task:${id}`, `unsubscribed ${id}`);
      expect(ended).toMatchObject({ code: 'not_found', resubscribe: false, reason: 'deleted' });
      const feed = await ws.next((f) => f.type === 'event' && f.data?.kind === 'task.deleted' && f.data.taskId === id);
      expect(feed.channel).toBe('user:alice');
      for (const path of [`/tasks/${id}`, `/tasks/${id}/streams/output`, `/channels/task:${id}/history`]) {
        const answer = await t.api('GET', path, undefined, { token: alice });
        expect(answer.status, path).toBe(404);
        expect(answer.body.error.code).toBe('not_found');
      }
      expect((await t.api('GET', `/tasks/${id}`)).status).toBe(404);
      expect((await ws.request({ op: 'subscribe', channel: `task:${id}` })).error.code).toBe('not_found');
    }
    const unsubscribed = await sse.next((m) => m.type === 'unsubscribed', 'SSE unsubscribed');
    expect(unsubscribed.data).toMatchObject({ code: 'not_found', resubscribe: false, reason: 'deleted' });
    // The API key still reads the channel as a task never created: empty, at offset 0.
    const history = await t.api('GET', `/channels/task:${ids[0]!}/history`);
    expect(history.body).toMatchObject({ offset: 0, events: [] });
    expect((await t.api('GET', `/tasks?parent=${ids[0]!}`)).body.tasks).toEqual([]);

    const after = (await t.api('GET', `/tasks/${running}`)).body as Task;
    expect(after).toEqual(before);
    sse.close();
    ws.close();
  });

  it('DELETE /tasks/:id: a running task or tree → 409 and nothing changes; bad input coded; a finished tree goes now', async () => {
    const admin = await t.token({ sub: 'root', admin: true });
    const bob = await t.token({ sub: 'bob' });
    const id = `del-${engine}`;
    await t.api('POST', '/tasks', { id, owner: 'bob', batch: {} });
    await t.api('POST', '/tasks', { id: `${id}-kid`, owner: 'bob', parentId: id });
    await t.api('PATCH', `/tasks/${id}-kid`, { progress: 40 });
    const parent = (await t.api('GET', `/tasks/${id}`)).body as Task;

    const running = await t.api('DELETE', `/tasks/${id}-kid`);
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('conflict');
    await t.api('PATCH', `/tasks/${id}`, { status: 'running' });
    expect((await t.api('PATCH', `/tasks/${id}`, { status: 'succeeded' })).status).toBe(200);
    const tree = await t.api('DELETE', `/tasks/${id}`);
    expect(tree.status).toBe(409);
    expect(tree.body.error).toMatchObject({ code: 'conflict', message: expect.stringContaining(`${id}-kid`) });
    expect((await t.api('DELETE', `/tasks/${id}`, undefined, { token: bob })).status).toBe(403);
    expect((await t.api('DELETE', `/tasks/${id}`, undefined, { token: null })).status).toBe(401);
    const missing = await t.api('DELETE', '/tasks/no-such-task');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
    const bad = await t.api('DELETE', `/tasks/${'x'.repeat(129)}`);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'bad_request']);
    expect((await t.api('GET', `/tasks/${id}-kid`)).body).toMatchObject({ status: 'running', progress: 40 });
    expect(((await t.api('GET', `/tasks/${id}`)).body as Task).children).toEqual(parent.children);

    await t.api('PATCH', `/tasks/${id}-kid`, { status: 'failed' });
    const child = await t.api('DELETE', `/tasks/${id}-kid`);
    expect([child.status, child.body.error.code]).toEqual([409, 'conflict']);
    const done = await t.api('DELETE', `/tasks/${id}`, undefined, { token: admin });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ taskId: id, deleted: 2 });
    expect((await t.api('GET', `/tasks/${id}-kid`)).status).toBe(404);
    expect((await t.api('DELETE', `/tasks/${id}`)).status).toBe(404);
  });
});
