/** Conformance: task streams (append with its event and summary, read back, limits, races, lifetime). */
import { describe, expect, it } from 'vitest';
import type { Engine, StoredEvent, StreamAppendRequest } from '../engine/types.js';
import { createReq, makeTask, uid, waitFor, type OpenEngine } from './helpers.js';

function chunk(
  taskId: string,
  index: number,
  text: string,
  over: Partial<StreamAppendRequest> = {},
): StreamAppendRequest {
  const data = { kind: 'task.stream', taskId, stream: over.stream ?? 'output', index, text };
  return {
    taskId,
    stream: 'output',
    index,
    text,
    event: { channel: `task:${taskId}`, data },
    stallAt: null,
    maxBytes: 1024 * 1024,
    maxStreams: 8,
    ...over,
  };
}

async function task(e: Engine): Promise<string> {
  const t = makeTask({ id: uid('s-'), status: 'running' });
  await e.commit(createReq(t));
  return t.id;
}

export function describeStreamConformance(engine: OpenEngine): void {
  describe('streams', () => {
    it('appends chunks with their events and summary, the version unchanged, and reads the whole text back', async () => {
      const e = await engine();
      const id = await task(e);
      const seen: StoredEvent[] = [];
      await e.subscribe(`task:${id}`, (ev) => seen.push(ev));
      const texts = ['Once ', 'upon ', 'a tïme'];
      for (const [i, text] of texts.entries()) {
        const r = await e.appendStream(chunk(id, i, text));
        expect(r).toMatchObject({ ok: true, summary: { chunks: i + 1 } });
      }
      expect(await e.readStream(id, 'output')).toEqual({ text: 'Once upon a tïme', chunks: 3 });
      expect(await e.readStream(id, 'never')).toEqual({ text: '', chunks: 0 });
      const stored = await e.getTask(id);
      expect(stored?.version).toBe(1);
      expect(stored?.streams).toEqual({ output: { chunks: 3, bytes: Buffer.byteLength('Once upon a tïme') } });
      await waitFor(() => seen.length === 3);
      expect(seen.map((ev) => (ev.data as { index: number }).index)).toEqual([0, 1, 2]);
      expect(seen.map((ev) => ev.offset)).toEqual([1, 2, 3]);
    });

    it('refuses a stale index, a missing task, a stream over its size and one stream too many; nothing is stored', async () => {
      const e = await engine();
      const id = await task(e);
      expect((await e.appendStream(chunk(id, 0, 'a'))).ok).toBe(true);
      expect(await e.appendStream(chunk(id, 0, 'b'))).toEqual({ ok: false, reason: 'conflict' });
      expect(await e.appendStream(chunk(uid('none-'), 0, 'x'))).toEqual({ ok: false, reason: 'not_found' });
      expect(await e.appendStream(chunk(id, 1, 'xyz', { maxBytes: 3 }))).toEqual({ ok: false, reason: 'too_large' });
      for (const name of ['s2', 's3'])
        expect((await e.appendStream(chunk(id, 0, 'x', { stream: name, maxStreams: 3 }))).ok).toBe(true);
      expect(await e.appendStream(chunk(id, 0, 'x', { stream: 's4', maxStreams: 3 }))).toEqual({
        ok: false,
        reason: 'too_many',
      });
      expect(await e.readStream(id, 'output')).toEqual({ text: 'a', chunks: 1 });
      expect(Object.keys((await e.getTask(id))?.streams ?? {}).sort()).toEqual(['output', 's2', 's3']);
      expect((await e.history(`task:${id}`, { limit: 10 })).events).toHaveLength(3);
    });

    it('lets exactly one of concurrent appends at the same index win', async () => {
      const e = await engine();
      const id = await task(e);
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => e.appendStream(chunk(id, 0, `c${i}`))));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect((await e.readStream(id, 'output')).chunks).toBe(1);
    });

    it('keeps every chunk beyond the channel’s history, and a commit made from an older read keeps the summary', async () => {
      const e = await engine({ historySize: 5 });
      const id = await task(e);
      const before = await e.getTask(id);
      for (let i = 0; i < 20; i++) expect((await e.appendStream(chunk(id, i, `${i},`))).ok).toBe(true);
      expect((await e.readStream(id, 'output')).chunks).toBe(20);
      expect((await e.history(`task:${id}`, { limit: 100 })).events).toHaveLength(5);
      // A task change computed from the snapshot read before the chunks: their summary stays.
      const moved = { ...before!, progress: 50, version: 2 };
      expect((await e.commit({ task: moved, expectedVersion: 1, events: [], stallAt: null })).ok).toBe(true);
      const after = await e.getTask(id);
      expect(after).toMatchObject({ progress: 50, version: 2, streams: { output: { chunks: 20 } } });
    });
  });
}
