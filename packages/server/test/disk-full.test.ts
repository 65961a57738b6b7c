/**
 * The SQLite engine on a real full filesystem (a small tmpfs mounted for the test):
 * writes answer 503 `unavailable` with Retry-After (HTTP) and `unavailable`
 * (WebSocket), /readyz answers 503 while writes fail and 200 again by itself once
 * one succeeds, nothing is half-applied (no event without its write), and every
 * acknowledged write is there after a restart.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-full-'));
let mountError: string | null = null;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
} catch (err) {
  mountError = err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
const mounted = mountError === null;

afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', dir]);
  rmdirSync(dir);
});

/** Fill the filesystem: write a file until the disk refuses. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

const meta = { blob: 'm'.repeat(8 * 1024) };

describe.skipIf(!mounted)(
  `SQLite on a full disk${mounted ? '' : ` (skipped: cannot mount a tmpfs here: ${mountError})`}`,
  () => {
    it('answers 503 and readyz 503 while writes fail, applies nothing by half, and recovers by itself', async () => {
      const db = join(dir, 'taskwire.db');
      const filler = join(dir, 'filler');
      let t: TestServer = await startTestServer({ engine: 'sqlite', db });
      const acked: string[] = [];
      try {
        const token = await t.token({ sub: 'alice', publish: ['room:*'], channels: ['room:*'] });
        const watcher = await TestClient.authed(t.wsUrl, token);
        await watcher.request({ op: 'subscribe', channel: 'user:alice' });
        for (let i = 0; i < 5; i++) {
          const res = await t.api('POST', '/tasks', { owner: 'alice', id: `before-${i}`, meta });
          expect(res.status).toBe(201);
          acked.push(`before-${i}`);
        }
        fill(filler);

        // Writes fail: each answers 503 with Retry-After, or (rarely, in a page SQLite still had) succeeds.
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) {
          const res = await t.api('POST', '/tasks', { owner: 'alice', id: `during-${i}`, meta });
          statuses.push(res.status);
          if (res.status === 201) acked.push(`during-${i}`);
          else {
            expect(res.status).toBe(503);
            expect(res.body.error.code).toBe('unavailable');
            expect(res.headers.get('retry-after')).toBe('1');
          }
        }
        expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(30);
        const publish = await t.api('POST', '/channels/room:full/publish', { data: meta });
        expect(publish.status).toBe(503);
        expect(publish.body.error.code).toBe('unavailable');
        const ws = await watcher.request({ op: 'publish', channel: 'room:full', data: meta });
        expect(ws.error).toMatchObject({ code: 'unavailable' });
        const ready = await t.api('GET', '/readyz');
        expect(ready.status).toBe(503);
        expect(ready.body.error.message).toContain('disk is full');
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        expect(metrics).toMatch(/taskwire_engine_writes_failing 1/);
        expect(Number(/taskwire_engine_write_failures_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(30);

        // Space again: readiness comes back by itself, and so do writes.
        rmSync(filler);
        let back = 0;
        for (let i = 0; i < 50 && back !== 200; i++) back = (await t.api('GET', '/readyz')).status;
        expect(back).toBe(200);
        const after = await t.api('POST', '/tasks', { owner: 'alice', id: 'after', meta });
        expect(after.status).toBe(201);
        acked.push('after');

        // No event without its write: the watcher saw exactly the acknowledged creates, in order, then nothing.
        const seen: string[] = [];
        for (const _ of acked) {
          const event = await watcher.next((f) => f.type === 'event', 'a task.created event');
          seen.push((event.data as { task: { id: string } }).task.id);
        }
        expect(seen).toEqual(acked);
        await expect(watcher.next((f) => f.type === 'event', 'no more', 300)).rejects.toThrow();
        watcher.close();
      } finally {
        await t.close();
      }

      // Every acknowledged write survives a restart; no refused one appears.
      t = await startTestServer({ engine: 'sqlite', db });
      try {
        for (const id of acked) expect((await t.api('GET', `/tasks/${id}`)).status, id).toBe(200);
        const list = (await t.api('GET', '/tasks?limit=500')).body as { tasks: Array<{ id: string }> };
        expect(list.tasks.map((x) => x.id).sort()).toEqual([...acked].sort());
      } finally {
        await t.close();
      }
    });
  },
);
