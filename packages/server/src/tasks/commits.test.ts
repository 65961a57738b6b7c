import { describe, expect, it } from 'vitest';
import { reduce, type Task } from '@taskwire/protocol';
import { jsonOfSnapshot, snapshotEvents } from './commits.js';

const T0 = Date.UTC(2026, 0, 1);

describe('snapshot events and their text', () => {
  const created = reduce(null, { type: 'create', id: 'j-1', owner: 'alice', title: 'Quote "x" é' }, T0) as Task;
  const next = reduce(created, { type: 'update', progress: 12.5, meta: { note: 'a\nb', t: 1 } }, T0 + 1) as Task;

  it('each event carries exactly JSON.stringify of its data', () => {
    for (const [kind, task] of [
      ['task.created', created],
      ['task.updated', next],
    ] as const) {
      const events = snapshotEvents(kind, task);
      expect(events.map((e) => e.channel)).toEqual(['task:j-1', 'user:alice']);
      for (const e of events) expect(e.json).toBe(JSON.stringify({ kind, task }));
    }
  });

  it('jsonOfSnapshot is JSON.stringify, whether or not the value is the snapshot whose events were made last', () => {
    snapshotEvents('task.updated', next);
    expect(jsonOfSnapshot(next)).toBe(JSON.stringify(next));
    expect(jsonOfSnapshot(created)).toBe(JSON.stringify(created));
    expect(jsonOfSnapshot({ ...next, progress: 99 })).toBe(JSON.stringify({ ...next, progress: 99 }));
    expect(jsonOfSnapshot(null)).toBe('null');
    expect(jsonOfSnapshot({ tasks: [next], nextCursor: null })).toBe(
      JSON.stringify({ tasks: [next], nextCursor: null }),
    );
  });
});
