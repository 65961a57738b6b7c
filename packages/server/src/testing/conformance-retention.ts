/** Conformance: retention (the sweep's candidates, deleting a tree whole, refusals that change nothing). */
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import type { DeleteTreeRequest, DeleteTreeResult, Engine, StoredEvent } from '../engine/types.js';
import { createReq, makeTask, uid, waitFor, type OpenEngine } from './helpers.js';

const COUNTS = {
  total: 1,
  queued: 0,
  running: 0,
  stalled: 0,
  awaiting_approval: 0,
  succeeded: 1,
  failed: 0,
  cancelled: 0,
};

/** One tree through the engine's batch call. */
async function del(e: Engine, req: DeleteTreeRequest): Promise<DeleteTreeResult> {
  return (await e.deleteTrees([req]))[0] as DeleteTreeResult;
}

/** A time of its own per test (engines on one shared Redis see every test's tasks). */
const baseTime = (): number => Date.UTC(2001, 0, 1) + randomInt(0, 2 ** 40);

function ended(id: string, finishedAt: number, over: Partial<Task> = {}): Task {
  return makeTask({ id, status: 'succeeded', progress: 100, finishedAt: new Date(finishedAt).toISOString(), ...over });
}

/** A finished tree: a root, two children, a grandchild; each with events, and the root with a stream and a create key. */
async function finishedTree(e: Engine, owner: string, at: number): Promise<{ root: Task; all: Task[]; key: string }> {
  const root = ended(uid('rt-'), at, { owner, children: { ...COUNTS, total: 2, succeeded: 2 } });
  const a = ended(uid('ca-'), at - 5, { owner, parentId: root.id, children: COUNTS });
  const b = ended(uid('cb-'), at - 3, { owner, parentId: root.id, status: 'cancelled', progress: null });
  const g = ended(uid('gc-'), at - 9, { owner, parentId: a.id });
  const key = uid('key-');
  for (const t of [root, a, b, g]) {
    const events = [{ channel: `task:${t.id}`, data: { kind: 'task.created', task: t } }];
    const idempotency = t === root ? { idempotency: { key, ttlMs: 60_000 } } : {};
    expect((await e.commit(createReq(t, { events, ...idempotency }))).ok).toBe(true);
  }
  const data = { kind: 'task.stream', taskId: root.id, stream: 'output', index: 0, text: 'hello' };
  const chunk = { taskId: root.id, stream: 'output', index: 0, text: 'hello', stallAt: null };
  const appended = await e.appendStream({
    ...chunk,
    event: { channel: `task:${root.id}`, data },
    maxBytes: 1024,
    maxStreams: 8,
  });
  expect(appended.ok).toBe(true);
  return { root, all: [root, a, b, g], key };
}

export function describeRetentionConformance(engine: OpenEngine): void {
  describe('retention', () => {
    it('lists top-level tasks that ended before a time, oldest first, a page at a time', async () => {
      const e = await engine();
      const t0 = baseTime();
      const after = { finishedAt: t0 - 1, id: '' };
      const old = [ended(uid('e1-'), t0), ended(uid('e2-'), t0 + 10), ended(uid('e3-'), t0 + 10)];
      const child = ended(uid('ch-'), t0 + 1, { parentId: old[0]!.id });
      const running = makeTask({ id: uid('run-'), status: 'running' });
      const late = ended(uid('late-'), t0 + 1000);
      for (const t of [...old, child, running, late]) expect((await e.commit(createReq(t))).ok).toBe(true);
      const page = await e.expired({ before: t0 + 100, limit: 10, after });
      const expected = [old[0]!, ...[old[1]!, old[2]!].sort((x, y) => (x.id < y.id ? -1 : 1))];
      expect(page).toEqual(expected.map((t) => ({ id: t.id, finishedAt: Date.parse(t.finishedAt!) })));
      const first = await e.expired({ before: t0 + 100, limit: 2, after });
      expect(first).toEqual(page.slice(0, 2));
      expect(await e.expired({ before: t0 + 100, limit: 2, after: first[1]! })).toEqual(page.slice(2));
      expect(await e.expired({ before: t0 + 100, limit: 0, after })).toEqual([]);
    });

    it('deletes a finished tree whole: snapshots, history, streams, create key, indexes; tells the owner and the channel', async () => {
      const e = await engine();
      const owner = uid('own-');
      const t0 = baseTime();
      const { root, all, key } = await finishedTree(e, owner, t0);
      const notices: StoredEvent[] = [];
      for (const t of all) await e.subscribe(`task:${t.id}`, (ev) => notices.push(ev));
      const before = await e.history(`task:${root.id}`, { limit: 10 });
      expect(before.events).toHaveLength(2);

      expect(await del(e, { id: root.id, finishedBefore: t0 })).toEqual({ ok: true, deleted: 4 });
      for (const t of all) {
        expect(await e.getTask(t.id)).toBeNull();
        const h = await e.history(`task:${t.id}`, { limit: 10 });
        expect(h).toMatchObject({ offset: 0, events: [] });
      }
      const since = { epoch: before.epoch, offset: before.offset };
      expect((await e.history(`task:${root.id}`, { since, limit: 10 })).recovered).toBe(false);
      expect(await e.readStream(root.id, 'output')).toEqual({ text: '', chunks: 0 });
      expect(await e.lookupIdempotency(key)).toBeNull();
      expect(await e.children(root.id)).toEqual([]);
      expect((await e.listTasks({ owner, limit: 10 })).tasks).toEqual([]);
      expect(await e.expired({ before: t0 + 1, limit: 10, after: { finishedAt: t0 - 100, id: '' } })).toEqual([]);
      const feed = await e.history(`user:${owner}`, { limit: 10 });
      const deleted = feed.events.map((ev) => ev.data as { kind: string; taskId: string });
      expect(deleted.every((d) => d.kind === 'task.deleted')).toBe(true);
      expect(deleted.map((d) => d.taskId).sort()).toEqual(all.map((t) => t.id).sort());
      await waitFor(() => notices.length === all.length);
      expect(new Set(notices.map((ev) => ev.channel))).toEqual(new Set(all.map((t) => `task:${t.id}`)));
      for (const ev of notices) expect(ev.data).toEqual({ kind: 'task.deleted', taskId: ev.channel.slice(5) });
      // Gone for good, and the id and the key are free again.
      expect(await del(e, { id: root.id })).toEqual({ ok: false, reason: 'not_found' });
      const again = makeTask({ id: root.id, owner });
      expect((await e.commit(createReq(again, { idempotency: { key, ttlMs: 60_000 } }))).ok).toBe(true);
      expect(await e.getTask(root.id)).toMatchObject({ status: 'queued', version: 1 });
    });

    it('refuses a tree with a task that has not ended, a child, a missing task and (for the sweep) a recent end; nothing changes', async () => {
      const e = await engine();
      const owner = uid('own-');
      const t0 = baseTime();
      const root = ended(uid('rt-'), t0, { owner, children: { ...COUNTS, total: 2, running: 1 } });
      const done = ended(uid('ok-'), t0 + 50, { owner, parentId: root.id });
      const busy = makeTask({ id: uid('busy-'), owner, status: 'running', parentId: done.id });
      for (const t of [root, done, busy]) {
        const events = [{ channel: `task:${t.id}`, data: { kind: 'task.created', task: t } }];
        expect((await e.commit(createReq(t, { events }))).ok).toBe(true);
      }
      expect(await del(e, { id: root.id })).toEqual({ ok: false, reason: 'active', taskId: busy.id });
      expect(await del(e, { id: busy.id })).toEqual({ ok: false, reason: 'child', parentId: done.id });
      expect(await del(e, { id: done.id })).toEqual({ ok: false, reason: 'child', parentId: root.id });
      expect(await del(e, { id: uid('none-') })).toEqual({ ok: false, reason: 'not_found' });
      const finished = { ...busy, status: 'failed' as const, finishedAt: new Date(t0 + 100).toISOString(), version: 2 };
      expect((await e.commit({ task: finished, expectedVersion: 1, events: [], stallAt: null })).ok).toBe(true);
      expect(await del(e, { id: root.id, finishedBefore: t0 + 60 })).toEqual({
        ok: false,
        reason: 'not_expired',
        taskId: busy.id,
      });
      for (const t of [root, done]) {
        expect((await e.getTask(t.id))?.version).toBe(1);
        expect((await e.history(`task:${t.id}`, { limit: 10 })).events).toHaveLength(1);
      }
      expect((await e.children(root.id)).map((t) => t.id)).toEqual([done.id]);
      expect((await e.history(`user:${owner}`, { limit: 10 })).events).toEqual([]);
      expect(await del(e, { id: root.id, finishedBefore: t0 + 100 })).toEqual({ ok: true, deleted: 3 });
    });

    it('deletes several trees in one call, each on its own', async () => {
      const e = await engine();
      const owner = uid('own-');
      const t0 = baseTime();
      const one = await finishedTree(e, owner, t0);
      const busy = makeTask({ id: uid('busy-'), owner, status: 'running' });
      expect((await e.commit(createReq(busy))).ok).toBe(true);
      const two = await finishedTree(e, owner, t0);
      const results = await e.deleteTrees([
        { id: one.root.id },
        { id: busy.id },
        { id: two.root.id },
        { id: uid('x-') },
      ]);
      expect(results).toEqual([
        { ok: true, deleted: 4 },
        { ok: false, reason: 'active', taskId: busy.id },
        { ok: true, deleted: 4 },
        { ok: false, reason: 'not_found' },
      ]);
      expect(await e.getTask(busy.id)).toMatchObject({ status: 'running' });
      expect(await e.deleteTrees([])).toEqual([]);
    });

    it('deletes a tree once when two deletions race', async () => {
      const e = await engine();
      const owner = uid('own-');
      const { root } = await finishedTree(e, owner, baseTime());
      const results = await Promise.all([del(e, { id: root.id }), del(e, { id: root.id })]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect((await e.history(`user:${owner}`, { limit: 10 })).events).toHaveLength(4);
    });
  });
}
