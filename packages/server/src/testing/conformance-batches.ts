/** Conformance: batches (children, listing by parent and tag, atomic multi-commits, parent marks). */
import { describe, expect, it } from 'vitest';
import { createReq, makeTask, uid, waitFor, type OpenEngine } from './helpers.js';
import type { StoredEvent } from '../engine/types.js';

export function describeBatchConformance(engine: OpenEngine): void {
  describe('batches', () => {
    it('keeps the fields of protocol 1.1 (parentId, batch, children, tags, streams) as given', async () => {
      const e = await engine();
      const parent = makeTask({
        id: uid('p-'),
        batch: { progressFrom: 'children', expectedChildren: 3, completeWhen: 'children' },
        children: {
          total: 1,
          queued: 1,
          running: 0,
          stalled: 0,
          awaiting_approval: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        },
        tags: ['import', 'nightly'],
        streams: { output: { chunks: 2, bytes: 10 } },
      });
      await e.commit(createReq(parent));
      expect(await e.getTask(parent.id)).toEqual(parent);
    });

    it('finds a task’s direct children, and no grandchild', async () => {
      const e = await engine();
      const root = makeTask({ id: uid('r-') });
      const kids = [makeTask({ id: uid('c-'), parentId: root.id }), makeTask({ id: uid('c-'), parentId: root.id })];
      const grandchild = makeTask({ id: uid('g-'), parentId: kids[0]!.id });
      for (const t of [root, ...kids, grandchild]) expect((await e.commit(createReq(t))).ok).toBe(true);
      const found = await e.children(root.id);
      expect(found.map((t) => t.id).sort()).toEqual(kids.map((t) => t.id).sort());
      expect((await e.children(kids[0]!.id)).map((t) => t.id)).toEqual([grandchild.id]);
      expect(await e.children(uid('none-'))).toEqual([]);
      // A child's later change is what children() returns.
      const moved = { ...kids[1]!, status: 'running' as const, version: 2 };
      await e.commit({ task: moved, expectedVersion: 1, events: [], stallAt: null });
      expect((await e.children(root.id)).find((t) => t.id === moved.id)).toEqual(moved);
    });

    it('lists by parent and by tag, newest first, with the cursor', async () => {
      const e = await engine();
      const parent = makeTask({ id: uid('p-') });
      const tag = uid('tag-');
      await e.commit(createReq(parent));
      const at = (m: number): string => new Date(Date.UTC(2026, 11, 2, 10, m)).toISOString();
      const ids: string[] = [];
      for (let m = 0; m < 5; m++) {
        const t = makeTask({ id: uid('c-'), parentId: parent.id, tags: m % 2 === 0 ? [tag] : [], createdAt: at(m) });
        ids.push(t.id);
        await e.commit(createReq(t));
      }
      await e.commit(createReq(makeTask({ id: uid('x-'), tags: [tag], createdAt: at(9) })));
      const page1 = await e.listTasks({ parent: parent.id, limit: 3 });
      expect(page1.tasks.map((t) => t.id)).toEqual([ids[4], ids[3], ids[2]]);
      const page2 = await e.listTasks({ parent: parent.id, limit: 3, cursor: page1.nextCursor as string });
      expect(page2).toEqual({
        tasks: [expect.objectContaining({ id: ids[1] }), expect.objectContaining({ id: ids[0] })],
        nextCursor: null,
      });
      const tagged = await e.listTasks({ tag, limit: 10 });
      expect(tagged.tasks).toHaveLength(4);
      expect((await e.listTasks({ tag, parent: parent.id, limit: 10 })).tasks.map((t) => t.id)).toEqual([
        ids[4],
        ids[2],
        ids[0],
      ]);
    });

    it('commits a child with its parent: several tasks at once, all or none, or else parent marks', async () => {
      const e = await engine();
      const sync = e.sync;
      // An engine commits a child and its parent in one transaction (sync.commitAll) or in two steps, with marks.
      if (!sync) {
        expect(e.pendingParents, 'an engine without a synchronous store marks parents').toBeDefined();
        return;
      }
      const channel = `room:${uid('multi-')}`;
      const seen: StoredEvent[] = [];
      await e.subscribe(channel, (ev) => seen.push(ev));
      const a = makeTask({ id: uid('a-') });
      const b = makeTask({ id: uid('b-') });
      await e.commit(createReq(b));
      // b at version 1 is expected as 0: the whole commit fails and a is not stored.
      const refused = sync.commitAll([
        { ...createReq(a), events: [{ channel, data: 'a' }] },
        { ...createReq({ ...b, title: 'x' }), events: [{ channel, data: 'b' }] },
      ]);
      expect(refused).toMatchObject({ ok: false, reason: 'conflict' });
      expect(await e.getTask(a.id)).toBeNull();
      const ok = sync.commitAll([
        { ...createReq(a), events: [{ channel, data: 'a' }] },
        { task: { ...b, version: 2 }, expectedVersion: 1, events: [{ channel, data: 'b' }], stallAt: null },
      ]);
      expect(ok.ok).toBe(true);
      await waitFor(() => seen.length === 2);
      expect(seen.map((ev) => [ev.data, ev.offset])).toEqual([
        ['a', 1],
        ['b', 2],
      ]);
      expect(sync.children(a.id)).toEqual([]);
    });

    it('marks parents, lists the old marks, and keeps a mark renewed after the one being cleared (two-step engines)', async () => {
      const e = await engine();
      const pending = e.pendingParents;
      // A synchronous engine commits a child with its parent (above): it has nothing to mark.
      if (!pending) {
        expect(e.sync, 'an engine without parent marks commits children with their parents').toBeDefined();
        return;
      }
      const [p1, p2] = [uid('p-'), uid('p-')];
      await pending.mark(p1, 1000);
      await pending.mark(p2, 5000);
      const due = (await pending.due(2000, 100)).filter((d) => d.id === p1 || d.id === p2);
      expect(due).toEqual([{ id: p1, mark: 1000 }]);
      await pending.mark(p1, 3000); // renewed by another change
      await pending.clear(p1, 1000);
      expect((await pending.due(10_000, 100)).filter((d) => d.id === p1)).toEqual([{ id: p1, mark: 3000 }]);
      await pending.clear(p1, 3000);
      await pending.clear(p2, 5000);
      expect((await pending.due(10_000, 100)).filter((d) => d.id === p1 || d.id === p2)).toEqual([]);
    });
  });
}
