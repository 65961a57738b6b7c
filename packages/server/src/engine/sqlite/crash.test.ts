/**
 * Durability across a crash: a real child process writes through the SQLite engine
 * (the built one, packages/server/dist: `npm run build` first, as for the CLI
 * tests) and is killed with SIGKILL mid-stream; every write it acknowledged must be
 * there after reopening the file, with the same epoch and no gap.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteEngine } from './sqlite-engine.js';

const BUILT_ENGINE = new URL('../../../dist/engine/sqlite/sqlite-engine.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'taskwire-sqlite-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Publishes to a room and updates a task for ever, printing `<epoch> <offset> <version>` once each write resolved. */
const CHILD = `
const { createSqliteEngine } = await import(process.env.ENGINE_URL);
const e = createSqliteEngine({ path: process.env.DB_PATH, limits: { historySize: 1000000 } });
await e.start();
const at = new Date().toISOString();
let task = { id: 'crash', owner: 'alice', title: null, status: 'running', progress: 0, stage: null,
  message: null, result: null, error: null, approval: null, meta: {}, stallTimeoutMs: 60000,
  createdAt: at, updatedAt: at, startedAt: at, finishedAt: null, version: 1 };
await e.commit({ task, expectedVersion: 0, events: [], stallAt: null });
for (let i = 1; ; i++) {
  const { event } = await e.publish({ channel: 'room:crash', data: i });
  const next = { ...task, progress: i % 100, version: task.version + 1 };
  const r = await e.commit({ task: next, expectedVersion: task.version, events: [{ channel: 'task:crash', data: i }], stallAt: null });
  if (!r.ok) throw new Error('commit failed');
  task = next;
  process.stdout.write(event.epoch + ' ' + event.offset + ' ' + task.version + '\\n');
  if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
}
`;

describe('sqlite engine: crash', () => {
  it('keeps every acknowledged write when the writing process is killed with SIGKILL', async () => {
    expect(existsSync(fileURLToPath(BUILT_ENGINE)), 'build the server first (npm run build)').toBe(true);
    const path = join(dir, 'crash.sqlite');
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, DB_PATH: path, ENGINE_URL: BUILT_ENGINE.href },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: Array<{ epoch: string; offset: number; version: number }> = [];
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (b: Buffer) => {
        buffered += b.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const [epoch = '', offset = '', version = ''] = line.split(' ');
          acked.push({ epoch, offset: Number(offset), version: Number(version) });
        }
        if (acked.length >= 500 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', () => resolve());
    });
    expect(child.signalCode, stderr).toBe('SIGKILL');
    const last = acked.at(-1);
    if (!last) throw new Error(`the child acknowledged nothing: ${stderr}`);

    const e = createSqliteEngine({ path, limits: { historySize: 1_000_000 } });
    await e.start();
    try {
      const room = await e.history('room:crash', { since: { epoch: last.epoch, offset: 0 }, limit: 1_000_000 });
      expect(room.recovered).toBe(true);
      expect(room.epoch).toBe(last.epoch);
      expect(room.offset).toBeGreaterThanOrEqual(last.offset);
      expect(room.events.map((ev) => ev.offset)).toEqual(Array.from({ length: room.offset }, (_, i) => i + 1));
      expect(room.events.map((ev) => ev.data)).toEqual(Array.from({ length: room.offset }, (_, i) => i + 1));
      const task = await e.getTask('crash');
      expect(task?.version).toBeGreaterThanOrEqual(last.version);
      const log = await e.history('task:crash', { limit: 1_000_000 });
      expect(log.offset).toBe((task?.version ?? 0) - 1);
      // A client holding the last acknowledged position recovers exactly what followed it.
      const after = await e.history('room:crash', { since: { epoch: last.epoch, offset: last.offset }, limit: 1000 });
      expect(after).toMatchObject({ recovered: true, offset: room.offset });
      expect(after.events).toHaveLength(room.offset - last.offset);
    } finally {
      await e.close();
    }
  });
});
