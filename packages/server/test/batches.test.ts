/**
 * Batches over the HTTP API on the SQLite engine: 200 children updated by 10
 * concurrent HTTP clients leave the parent exactly the function of its children
 * (what a WebSocket subscriber last saw, and what GET answers); every bad input of
 * the new fields gets its coded error and changes nothing; ?parent= and ?tag= list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChildren, progressOfChildren, type Task } from '@taskwire/protocol';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient, eventually } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-batches-'));
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ engine: 'sqlite', db: join(dir, 'b.db') });
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

async function children(parent: string): Promise<Task[]> {
  return ((await t.api('GET', `/tasks?parent=${parent}&limit=500`)).body as { tasks: Task[] }).tasks;
}

describe('batches over HTTP (SQLite)', () => {
  it('200 children updated by 10 concurrent clients: the parent a subscriber last saw is the function of its children', async () => {
    await t.api('POST', '/tasks', {
      id: 'big',
      owner: 'ada',
      batch: { expectedChildren: 200, completeWhen: 'children' },
    });
    const seen: Task[] = [];
    const watcher = await TestClient.authed(t.wsUrl, await t.token({ sub: 'ada' }), {
      inbox: (f) => f.type !== 'event',
      onFrame: (f) => {
        if (f.type === 'event' && f.channel === 'task:big') seen.push((f.data as { task: Task }).task);
      },
    });
    await watcher.request({ op: 'subscribe', channel: 'task:big' });
    const queue = Array.from({ length: 200 }, (_, i) => i);
    const worker = async (): Promise<void> => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const id = `big-${i}`;
        expect((await t.api('POST', '/tasks', { id, owner: 'ada', parentId: 'big' })).status).toBe(201);
        expect((await t.api('PATCH', `/tasks/${id}`, { progress: (i * 31) % 100 })).status).toBe(200);
        const end =
          i % 9 === 0
            ? await t.api('POST', `/tasks/${id}/cancel`)
            : await t.api('PATCH', `/tasks/${id}`, { status: i % 10 === 0 ? 'failed' : 'succeeded' });
        expect(end.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 10 }, () => worker()));
    const kids = await children('big');
    expect(kids).toHaveLength(200);
    const parent = (await t.api('GET', '/tasks/big')).body as Task;
    expect(parent.children).toEqual(countChildren(kids));
    expect(parent).toMatchObject({ status: 'failed', error: { code: 'children_failed' }, progress: 100 });
    await eventually(() => seen.at(-1)?.version === parent.version, 'the last parent snapshot pushed');
    expect(seen.at(-1)).toEqual(parent);
    // Versions of the parent's events: strictly +1, none lost.
    const versions = seen.map((p) => p.version);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => versions[0]! + i));
    watcher.close();
  });

  it('progress from children, stage and message from the parent’s worker, progress in its PATCH refused', async () => {
    await t.api('POST', '/tasks', { id: 'pages', owner: 'ada', batch: { expectedChildren: 4 } });
    await t.api('POST', '/tasks', { id: 'pages-1', owner: 'ada', parentId: 'pages' });
    await t.api('PATCH', '/tasks/pages-1', { progress: 60 });
    const kids = await children('pages');
    const parent = (await t.api('GET', '/tasks/pages')).body as Task;
    expect(parent.progress).toBe(
      progressOfChildren(kids, { progressFrom: 'children', expectedChildren: 4, completeWhen: 'self' }),
    );
    expect(parent.progress).toBe(15);
    expect((await t.api('PATCH', '/tasks/pages', { stage: 'writing', message: '1 of 4' })).body).toMatchObject({
      stage: 'writing',
    });
    const refused = await t.api('PATCH', '/tasks/pages', { progress: 90 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('follows its children');
  });

  it('answers every bad input of the new fields with its coded error, and stores nothing', async () => {
    await t.api('POST', '/tasks', { id: 'mine', owner: 'ada' });
    await t.api('POST', '/tasks', { id: 'gone', owner: 'ada' });
    await t.api('PATCH', '/tasks/gone', { status: 'running' });
    await t.api('PATCH', '/tasks/gone', { status: 'succeeded' });
    for (let i = 1; i <= 3; i++)
      await t.api('POST', '/tasks', { id: `deep-${i + 1}`, owner: 'ada', parentId: i === 1 ? 'mine' : `deep-${i}` });
    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['another owner’s parent', { id: 'x1', owner: 'bob', parentId: 'mine' }, 400, 'bad_request'],
      ['a missing parent', { id: 'x2', owner: 'ada', parentId: 'nowhere' }, 404, 'not_found'],
      ['an ended parent', { id: 'x3', owner: 'ada', parentId: 'gone' }, 409, 'conflict'],
      ['a fifth level', { id: 'x4', owner: 'ada', parentId: 'deep-4' }, 400, 'bad_request'],
      ['a bad parentId', { id: 'x5', owner: 'ada', parentId: 'no spaces' }, 400, 'bad_request'],
      ['a bad batch option', { id: 'x6', owner: 'ada', batch: { progressFrom: 'nobody' } }, 400, 'bad_request'],
      ['an unknown batch option', { id: 'x7', owner: 'ada', batch: { extra: 1 } }, 400, 'bad_request'],
      ['a negative expectedChildren', { id: 'x8', owner: 'ada', batch: { expectedChildren: -1 } }, 400, 'bad_request'],
      ['11 tags', { id: 'x9', owner: 'ada', tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 400, 'bad_request'],
      ['a bad tag', { id: 'x10', owner: 'ada', tags: ['no spaces'] }, 400, 'bad_request'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await t.api('POST', '/tasks', body);
      expect(res.status, what).toBe(status);
      expect(res.body.error.code, what).toBe(code);
      expect((await t.api('GET', `/tasks/${String(body.id)}`)).status, `${what}: nothing stored`).toBe(404);
    }
    expect(((await t.api('GET', '/tasks/mine')).body as Task).children?.total).toBe(1);
  });

  it('lists children and tags for their owner only; another user gets 403 for another owner’s list', async () => {
    await t.api('POST', '/tasks', { id: 'imp', owner: 'ada', tags: ['import'] });
    await t.api('POST', '/tasks', { id: 'imp-1', owner: 'ada', parentId: 'imp', tags: ['import', 'pdf'] });
    const ada = await t.token({ sub: 'ada' });
    const listed = await t.api('GET', '/tasks?tag=pdf', undefined, { token: ada });
    expect((listed.body as { tasks: Task[] }).tasks.map((x) => x.id)).toEqual(['imp-1']);
    const bob = await t.token({ sub: 'bob' });
    expect(
      ((await t.api('GET', '/tasks?parent=imp', undefined, { token: bob })).body as { tasks: Task[] }).tasks,
    ).toEqual([]);
    expect((await t.api('GET', '/tasks?parent=imp&owner=ada', undefined, { token: bob })).status).toBe(403);
  });

  it('cancels a batch with everything under it, one update each, the parent last and cancelled', async () => {
    await t.api('POST', '/tasks', { id: 'job', owner: 'ada', batch: { completeWhen: 'children' } });
    for (const i of [1, 2, 3]) await t.api('POST', '/tasks', { id: `job-${i}`, owner: 'ada', parentId: 'job' });
    await t.api('PATCH', '/tasks/job-1', { status: 'running' });
    await t.api('PATCH', '/tasks/job-1', { status: 'succeeded' });
    const feed = await TestClient.authed(t.wsUrl, await t.token({ sub: 'ada' }));
    await feed.request({ op: 'subscribe', channel: 'user:ada' });
    const res = await t.api('POST', '/tasks/job/cancel');
    expect(res.body).toMatchObject({ id: 'job', status: 'cancelled' });
    const cancelled: string[] = [];
    while (!cancelled.includes('job')) {
      const f = await feed.next((x) => x.type === 'event');
      const task = (f.data as { task: Task }).task;
      if (task.status === 'cancelled' && !cancelled.includes(task.id)) cancelled.push(task.id);
    }
    expect(cancelled.slice(0, 2).sort()).toEqual(['job-2', 'job-3']);
    expect(cancelled.at(-1)).toBe('job');
    feed.close();
  });
});
