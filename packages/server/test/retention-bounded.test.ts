/**
 * Retention keeps a busy server bounded: 20,000 tasks created and finished with
 * `--task-ttl 2s` leave the SQLite file (with its WAL) at a plateau, `/api/v1/stats`
 * flat, and, once the TTL has passed, no task stored. The tasks go through the
 * server's own task service (the HTTP layer is tested in retention.test.ts), so the
 * volume fits in well under a minute on a small machine.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-bounded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOTAL = 20_000;
const WORKERS = 16;
const OWNERS = ['ann', 'ben', 'cal', 'dot'];

const fileSize = (path: string): number => {
  let size = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      size += statSync(file).size;
    } catch {
      // No WAL (yet).
    }
  }
  return size;
};

/** Create and finish `count` tasks from the worker pool; sample after every 1,000. */
async function churn(t: TestServer, count: number, sample: () => Promise<void>): Promise<void> {
  const tasks = t.server.ctx.tasks;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const { task } = await tasks.create({ owner: OWNERS[i % OWNERS.length]!, title: `job ${i}`, meta: { i } });
      if (i % 3 === 0) await tasks.cancel(task.id);
      else await tasks.update(task.id, { status: 'failed', error: 'no luck' });
      if (i % 1000 === 999) await sample();
      // As requests from the network would: the server's timers (the sweep) get their turn.
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, () => worker()));
}

async function stored(t: TestServer): Promise<number> {
  return ((await t.api('GET', '/tasks?limit=500')).body as { tasks: unknown[] }).tasks.length;
}

describe.each(['sqlite', 'memory'] as const)('retention bounds a busy %s server', (engine) => {
  it(`20,000 tasks created and finished with --task-ttl 2s: storage and stats plateau, then nothing is left`, async () => {
    const db = join(dir, `${engine}.db`);
    const t = await startTestServer({ engine, db, taskTtlMs: 2000 });
    try {
      const sizes: number[] = [];
      const stats: string[] = [];
      const started = Date.now();
      await churn(t, TOTAL, async () => {
        sizes.push(fileSize(db));
        const s = (await t.api('GET', '/stats')).body as Record<string, number>;
        stats.push(JSON.stringify([s.channels, s.subscriptions, s.engineSubscriptions, s.timers]));
      });
      const elapsed = Date.now() - started;
      expect(sizes).toHaveLength(TOTAL / 1000);
      // Nothing is subscribed: the node's own numbers do not move with the tasks.
      expect(new Set(stats).size).toBe(1);
      if (engine === 'sqlite') {
        // The second half of the run needs no more room than the first: deleted rows' pages are reused.
        const firstHalf = Math.max(...sizes.slice(0, sizes.length / 2));
        const secondHalf = Math.max(...sizes.slice(sizes.length / 2));
        expect(secondHalf, `sizes ${sizes.join(',')} over ${elapsed} ms`).toBeLessThanOrEqual(firstHalf * 1.5);
      }
      // Everything ended more than the TTL ago goes within a few sweeps.
      const deadline = Date.now() + 15_000;
      while ((await stored(t)) > 0) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await t.close();
    }
  }, 150_000);
});
