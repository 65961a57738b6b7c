/** The crash guard (sqlite-boot.ts): a reboot while the database was open renews every epoch. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from './native.js';
import { createSqliteEngine, type SqliteEngine } from './sqlite-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-boot-'));
const opened: SqliteEngine[] = [];
afterAll(async () => {
  for (const e of opened) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function open(path: string, bootId: string): Promise<SqliteEngine> {
  const e = createSqliteEngine({ path, bootId });
  opened.push(e);
  await e.start();
  return e;
}

/**
 * Publish on a channel with one engine; return its position. The engine then stops as
 * a crash leaves it: closed (the file is locked for one process) with its clean
 * shutdown mark taken back, as if close() never ran.
 */
async function publishThen(path: string, bootId: string): Promise<{ epoch: string; offset: number }> {
  const e = await open(path, bootId);
  for (let i = 0; i < 3; i++) await e.publish({ channel: 'room:r', data: { i } });
  const h = await e.history('room:r', { limit: 0 });
  await e.close();
  const db = openDatabase(path);
  db.prepare("update meta set value = '0' where key = 'clean_shutdown'").run();
  db.close();
  return { epoch: h.epoch, offset: h.offset };
}

describe('sqlite engine: crash guard', () => {
  it('gives every channel a new epoch after a reboot without a clean shutdown', async () => {
    const path = join(dir, `${++n}.db`);
    const before = await publishThen(path, 'boot-a'); // no clean shutdown
    const after = await open(path, 'boot-b');
    expect(after.epochsRotated).toBe(true);
    const h = await after.history('room:r', { since: before, limit: 10 });
    expect(h.epoch).not.toBe(before.epoch);
    expect(h.recovered).toBe(false);
    expect(h.offset).toBe(before.offset); // surviving events keep their offsets under the new epoch
  });

  it('keeps epochs after a process crash on the same boot (WAL survives it)', async () => {
    const path = join(dir, `${++n}.db`);
    const before = await publishThen(path, 'boot-a');
    const after = await open(path, 'boot-a');
    expect(after.epochsRotated).toBe(false);
    expect((await after.history('room:r', { since: { ...before, offset: 1 }, limit: 10 })).recovered).toBe(true);
  });

  it('keeps epochs after a clean shutdown, even across a reboot', async () => {
    const path = join(dir, `${++n}.db`);
    const first = await open(path, 'boot-a');
    await first.publish({ channel: 'room:r', data: 1 });
    const before = await first.history('room:r', { limit: 0 });
    await first.close();
    const after = await open(path, 'boot-b');
    expect(after.epochsRotated).toBe(false);
    expect((await after.history('room:r', { limit: 0 })).epoch).toBe(before.epoch);
  });
});
