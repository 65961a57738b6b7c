import { afterEach, describe, expect, it } from 'vitest';
import { countChildren, isSnapshotEvent, progressOfChildren, type Task, type TaskEventData } from '@taskwire/protocol';
import { createTaskService } from './service.js';
import { asyncOnly, cleanup, events, logger, rejectsWith, setup } from '../../test/helpers/task-service.js';
import type { TaskService } from './types.js';

afterEach(cleanup);

/** What a parent must show: the function of its children's snapshots (protocol's batch.ts). */
async function expectFollows(s: TaskService, parentId: string): Promise<Task> {
  const parent = (await s.get(parentId)) as Task;
  const children = (await s.list({ parent: parentId, limit: 500 })).tasks;
  expect(parent.children).toEqual(countChildren(children));
  if (parent.batch?.progressFrom === 'children' && !['failed', 'cancelled'].includes(parent.status)) {
    expect(parent.progress).toBe(parent.status === 'succeeded' ? 100 : progressOfChildren(children, parent.batch));
  }
  return parent;
}

describe('task service: batches', () => {
  it('a task becomes a parent with its first child, and follows its children in the same commit', async () => {
    const { engine, service } = setup();
    const s = service();
    await s.create({ id: 'roadmap', owner: 'alice' });
    await s.create({ id: 'page-1', owner: 'alice', parentId: 'roadmap' });
    await s.create({ id: 'page-2', owner: 'alice', parentId: 'roadmap' });
    await s.update('page-1', { progress: 50 });
    await s.update('page-2', { status: 'running' });
    await s.update('page-2', { status: 'succeeded' });
    const parent = await expectFollows(s, 'roadmap');
    expect(parent).toMatchObject({ batch: { progressFrom: 'children' }, progress: 75, status: 'running' });
    // One task.updated per parent change, each after the child's own event, on the same channels.
    const feed = (await events(engine, 'user:alice')).map((e) => e.data as TaskEventData);
    const order = feed.map((d) => (isSnapshotEvent(d) ? `${d.task.id}@${d.task.version}` : ''));
    expect(order).toEqual([
      'roadmap@1',
      'page-1@1',
      'roadmap@2',
      'page-2@1',
      'roadmap@3',
      'page-1@2',
      'roadmap@4',
      'page-2@2',
      'roadmap@5',
      'page-2@3',
      'roadmap@6',
    ]);
  });

  it('ends a batch with completeWhen children: succeeded, failed with children_failed, or cancelled', async () => {
    const { service } = setup();
    const s = service();
    await s.create({ id: 'ok', owner: 'a', batch: { completeWhen: 'children', expectedChildren: 2 } });
    await s.create({ id: 'ok-1', owner: 'a', parentId: 'ok' });
    await s.update('ok-1', { status: 'running' });
    await s.update('ok-1', { status: 'succeeded' });
    expect((await s.get('ok'))?.status).toBe('running'); // one of 2 expected
    await s.create({ id: 'ok-2', owner: 'a', parentId: 'ok' });
    await s.update('ok-2', { status: 'running' });
    await s.update('ok-2', { status: 'succeeded' });
    expect(await s.get('ok')).toMatchObject({ status: 'succeeded', progress: 100 });

    await s.create({ id: 'bad', owner: 'a', batch: { completeWhen: 'children' } });
    for (const id of ['bad-1', 'bad-2', 'bad-3']) await s.create({ id, owner: 'a', parentId: 'bad' });
    await s.update('bad-1', { progress: 10 });
    await s.update('bad-1', { status: 'succeeded' });
    await s.update('bad-2', { status: 'failed', error: 'boom' });
    await s.cancel('bad-3');
    expect(await s.get('bad')).toMatchObject({
      status: 'failed',
      error: { code: 'children_failed', message: '2 of 3 children failed' },
    });
  });

  it('a parent that ends by its children never stalls by itself; one that ends by itself does', async () => {
    const { service, clock } = setup();
    const s = service();
    await s.create({ id: 'batch', owner: 'a', stallTimeoutMs: 1000, batch: { completeWhen: 'children' } });
    await s.create({ id: 'own', owner: 'a', stallTimeoutMs: 1000 });
    for (const parent of ['batch', 'own']) {
      await s.create({ id: `${parent}-1`, owner: 'a', parentId: parent, stallTimeoutMs: 0 });
      await s.update(`${parent}-1`, { status: 'running' });
    }
    clock.now += 5000;
    expect(await s.sweepStalls(clock.now)).toBe(1);
    expect((await s.get('batch'))?.status).toBe('running');
    expect((await s.get('own'))?.status).toBe('stalled');
    // A child's change is activity of the batch: the stalled parent runs again.
    await s.update('own-1', { progress: 50 });
    expect((await s.get('own'))?.status).toBe('running');
  });

  it('cancels every running descendant, then the parent, which ends cancelled whatever its children did', async () => {
    const { service } = setup();
    const s = service();
    await s.create({ id: 'top', owner: 'a', batch: { completeWhen: 'children' } });
    await s.create({ id: 'mid', owner: 'a', parentId: 'top', batch: { completeWhen: 'children' } });
    await s.create({ id: 'leaf-1', owner: 'a', parentId: 'mid' });
    await s.create({ id: 'leaf-2', owner: 'a', parentId: 'mid' });
    await s.create({ id: 'done', owner: 'a', parentId: 'top' });
    await s.update('done', { status: 'running' });
    await s.update('done', { status: 'succeeded' });
    await s.update('leaf-1', { status: 'running' });
    const top = await s.cancel('top');
    expect(top.status).toBe('cancelled');
    for (const id of ['mid', 'leaf-1', 'leaf-2']) expect((await s.get(id))?.status, id).toBe('cancelled');
    expect((await s.get('done'))?.status).toBe('succeeded');
    await expectFollows(s, 'top');
    await expectFollows(s, 'mid');
    // A child's own cancel does not cancel its parent.
    await s.create({ id: 'p2', owner: 'a' });
    await s.create({ id: 'p2-1', owner: 'a', parentId: 'p2' });
    await s.cancel('p2-1');
    expect((await s.get('p2'))?.status).toBe('queued'); // a child cancelled in the queue started nothing
  });

  it('refuses a child of another owner (400), of a missing (404) or ended parent (409), or deeper than 4 levels (400)', async () => {
    const { service } = setup();
    const s = service();
    await s.create({ id: 'l1', owner: 'a' });
    await rejectsWith(s.create({ id: 'x', owner: 'b', parentId: 'l1' }), 'bad_request');
    await rejectsWith(s.create({ id: 'x', owner: 'a', parentId: 'nowhere' }), 'not_found');
    await s.create({ id: 'l2', owner: 'a', parentId: 'l1' });
    await s.create({ id: 'l3', owner: 'a', parentId: 'l2' });
    await s.create({ id: 'l4', owner: 'a', parentId: 'l3' });
    await rejectsWith(s.create({ id: 'l5', owner: 'a', parentId: 'l4' }), 'bad_request');
    await s.create({ id: 'ended', owner: 'a' });
    await s.update('ended', { status: 'running' });
    await s.update('ended', { status: 'succeeded' });
    await rejectsWith(s.create({ id: 'late', owner: 'a', parentId: 'ended' }), 'conflict');
    await rejectsWith(s.update('l1', { progress: 40 }), 'bad_request');
    expect(await s.get('x')).toBeNull();
    expect(await s.get('l5')).toBeNull();
    expect((await s.get('l1'))?.children?.total).toBe(1);
  });

  it('nested batches: a grandchild moves its parent and its grandparent in one commit', async () => {
    const { service } = setup();
    const s = service();
    await s.create({ id: 'g', owner: 'a' });
    await s.create({ id: 'p', owner: 'a', parentId: 'g' });
    await s.create({ id: 'c', owner: 'a', parentId: 'p' });
    await s.update('c', { progress: 40 });
    expect((await s.get('p'))?.progress).toBe(40);
    expect((await s.get('g'))?.progress).toBe(40);
  });

  it('two-step engines: 4 services racing 200 children of one parent leave it exactly the function of its children', async () => {
    const { engine } = setup();
    const nodes = Array.from({ length: 4 }, () => createTaskService(asyncOnly(engine), { logger }));
    const first = nodes[0] as TaskService;
    await first.create({ id: 'big', owner: 'a', batch: { completeWhen: 'children', expectedChildren: 200 } });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (nodes[i % 4] as TaskService).create({ id: `k${i}`, owner: 'a', parentId: 'big' }),
      ),
    );
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const s = nodes[(i + 1) % 4] as TaskService;
        await s.update(`k${i}`, { progress: (i * 7) % 100 });
        if (i % 10 === 3) await s.cancel(`k${i}`);
        else await s.update(`k${i}`, { status: i % 13 === 0 ? 'failed' : 'succeeded' });
      }),
    );
    const parent = await expectFollows(first, 'big');
    expect(parent.children?.total).toBe(200);
    expect(parent.status).toBe('failed');
    for (const s of nodes) await s.stop();
  });

  it('lists a batch’s children and the tasks of a tag', async () => {
    const { service } = setup();
    const s = service();
    await s.create({ id: 'b', owner: 'a' });
    await s.create({ id: 'b-1', owner: 'a', parentId: 'b', tags: ['pdf'] });
    await s.create({ id: 'b-2', owner: 'a', parentId: 'b' });
    await s.create({ id: 'lone', owner: 'a', tags: ['pdf', 'big'] });
    expect((await s.list({ parent: 'b', limit: 10 })).tasks.map((t) => t.id)).toEqual(['b-2', 'b-1']);
    expect((await s.list({ tag: 'pdf', limit: 10 })).tasks.map((t) => t.id)).toEqual(['lone', 'b-1']);
  });
});
