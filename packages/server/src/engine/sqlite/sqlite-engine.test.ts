import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { runEngineConformance } from '../../testing/index.js';
import { makeTask, waitFor } from '../../testing/helpers.js';
import { openDatabase, pragmaReader } from './native.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from './schema.js';
import { createSqliteEngine, type SqliteEngine, type SqliteEngineOptions } from './sqlite-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-sqlite-'));
let files = 0;
const freshPath = (): string => join(dir, `db-${++files}.sqlite`);
const listenerErrors: unknown[] = [];

// Every factory call gets a fresh file in a directory removed after the suite (and with `dir`).
const conformanceDir = mkdtempSync(join(dir, 'conformance-'));
runEngineConformance(
  'sqlite',
  (limits) =>
    Promise.resolve(
      createSqliteEngine({
        path: join(conformanceDir, `db-${++files}.sqlite`),
        onListenerError: (err) => listenerErrors.push(err),
        ...(limits ? { limits } : {}),
      }),
    ),
  { teardown: () => Promise.resolve(rmSync(conformanceDir, { recursive: true, force: true })) },
);

/** Engines opened by a test, closed after it (closing twice is harmless). */
const opened: SqliteEngine[] = [];
afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function open(opts: Partial<SqliteEngineOptions> & { path: string }): Promise<SqliteEngine> {
  const e = createSqliteEngine(opts);
  opened.push(e);
  await e.start();
  return e;
}

/** A running task (stall timeout 1 s) as the engine tests store it. */
const running = (id: string, overrides: Partial<Task> = {}): Task =>
  makeTask({ id, status: 'running', stallTimeoutMs: 1000, startedAt: '2026-11-22T10:00:00.000Z', ...overrides });

describe('sqlite engine: restart on the same file', () => {
  it('keeps tasks, versions, epochs, offsets, keys and stall deadlines across close and reopen', async () => {
    const path = freshPath();
    const a = await open({ path });
    const task = running('t1');
    const tc = 'task:t1';
    const uc = 'user:alice';
    const created = await a.commit({
      task,
      expectedVersion: 0,
      events: [
        { channel: tc, data: { kind: 'task.created', task } },
        { channel: uc, data: { kind: 'task.created', task } },
      ],
      stallAt: 1000,
      idempotency: { key: 'create-1', ttlMs: 3_600_000 },
    });
    expect(created.ok).toBe(true);
    const updated = { ...task, version: 2, progress: 50 };
    await a.commit({ task: updated, expectedVersion: 1, events: [{ channel: tc, data: 'v2' }], stallAt: 2000 });
    const room: number[] = [];
    for (let i = 1; i <= 5; i++)
      room.push((await a.publish({ channel: 'room:r', data: i, idempotencyKey: `k${i}` })).event.offset);
    const before = await a.history('room:r', { limit: 0 });
    const taskBefore = await a.history(tc, { limit: 10 });
    await a.close();

    const b = await open({ path });
    expect(await b.getTask('t1')).toEqual(updated);
    expect((await b.listTasks({ owner: 'alice', limit: 10 })).tasks).toEqual([updated]);
    expect((await b.dueStalls(2000, 10)).map((t) => t.id)).toEqual(['t1']);
    expect(await b.dueStalls(1999, 10)).toEqual([]);
    expect(await b.lookupIdempotency('create-1')).toBe('t1');
    const recovered = await b.history('room:r', { since: { epoch: before.epoch, offset: 3 }, limit: 100 });
    expect(recovered).toMatchObject({ epoch: before.epoch, offset: 5, recovered: true });
    expect(recovered.events.map((e) => e.data)).toEqual([4, 5]);
    expect(await b.history(tc, { limit: 10 })).toEqual(taskBefore);
    // Offsets continue in the same epoch; a repeated key is still a duplicate.
    expect((await b.publish({ channel: 'room:r', data: 6 })).event).toMatchObject({ epoch: before.epoch, offset: 6 });
    expect(await b.publish({ channel: 'room:r', data: 'again', idempotencyKey: 'k2' })).toMatchObject({
      duplicate: true,
      event: { epoch: before.epoch, offset: 2, data: 2 },
    });
    // Compare-and-set still sees the stored version.
    const stale = await b.commit({ task: { ...task, version: 2 }, expectedVersion: 1, events: [], stallAt: null });
    expect(stale).toEqual({ ok: false, reason: 'conflict', current: updated });
    const t3 = await b.commit({
      task: { ...updated, version: 3 },
      expectedVersion: 2,
      events: [{ channel: tc, data: 'v3' }],
      stallAt: null,
    });
    expect(t3.ok && t3.events[0]).toMatchObject({ epoch: taskBefore.epoch, offset: taskBefore.offset + 1 });
    expect(await b.dueStalls(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('gives a new channel a random epoch, different per database file', async () => {
    const a = await open({ path: freshPath() });
    const b = await open({ path: freshPath() });
    const ea = (await a.publish({ channel: 'room:x', data: 1 })).event.epoch;
    const eb = (await b.publish({ channel: 'room:x', data: 1 })).event.epoch;
    expect(ea).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(ea).not.toBe(eb);
    expect((await b.history('room:x', { since: { epoch: ea, offset: 0 }, limit: 10 })).recovered).toBe(false);
  });
});

describe('sqlite engine: schema', () => {
  it('records the schema version and reopens a current database', async () => {
    const path = freshPath();
    await (await open({ path })).close();
    const raw = openDatabase(path);
    expect(pragmaReader(raw, 'user_version')()).toBe(SCHEMA_VERSION);
    expect(pragmaReader(raw, 'journal_mode')()).toBe('wal');
    raw.close();
    await expect(open({ path })).resolves.toBeDefined();
  });

  it('refuses a database written by a newer taskwire with a clear message', async () => {
    const path = freshPath();
    await (await open({ path })).close();
    const raw = openDatabase(path);
    raw.exec(`pragma user_version = ${SCHEMA_VERSION + 98}`);
    raw.close();
    const e = createSqliteEngine({ path });
    opened.push(e);
    await expect(e.start()).rejects.toThrow(
      `database schema version ${SCHEMA_VERSION + 98} is newer than this taskwire (max ${SCHEMA_VERSION}); upgrade taskwire`,
    );
    await expect(e.ping()).rejects.toThrow(/not started/);
  });

  it('applies newer steps in order, and a failing step leaves the database as it was', async () => {
    const path = freshPath();
    await (await open({ path })).close();
    const raw = openDatabase(path);
    const version = pragmaReader(raw, 'user_version');
    const next = SCHEMA_VERSION + 1;
    const extra = { version: next, description: 'test', sql: 'create table extra (x integer) strict;' };
    expect(migrate(raw, [...MIGRATIONS, extra])).toEqual({ from: SCHEMA_VERSION, to: next });
    expect(version()).toBe(next);
    const broken = { version: next + 1, description: 'broken', sql: 'create table extra2 (x integer); not sql;' };
    expect(() => migrate(raw, [...MIGRATIONS, extra, broken])).toThrow();
    expect(version()).toBe(next);
    expect(pragmaReader(raw, "table_info('extra2')")()).toBeUndefined();
    raw.close();
  });
});

describe('sqlite engine: retention', () => {
  it('stays bounded under a steady stream with low limits, and answers recovered:false for a trimmed position', async () => {
    let now = 1_000_000;
    const e = await open({ path: freshPath(), limits: { historySize: 50, idempotencyTtlMs: 1000 }, now: () => now });
    const epochs = new Map<string, string>();
    for (let i = 0; i < 20_000; i++) {
      now += 1;
      const { event } = await e.publish({ channel: `room:r${i % 10}`, data: i, idempotencyKey: `k${i}` });
      epochs.set(event.channel, event.epoch);
    }
    const sizes = e.internalSizes();
    expect(sizes.events).toBe(10 * 50);
    expect(sizes.channels).toBe(10);
    const epoch = epochs.get('room:r3') as string;
    const latest = await e.history('room:r3', { limit: 1000 });
    expect(latest).toMatchObject({ epoch, offset: 2000, recovered: true });
    expect(latest.events.map((ev) => ev.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 1951 + i));
    expect(await e.history('room:r3', { since: { epoch, offset: 1949 }, limit: 100 })).toMatchObject({
      recovered: false,
      events: [],
    });
    const inside = await e.history('room:r3', { since: { epoch, offset: 1950 }, limit: 100 });
    expect(inside.recovered).toBe(true);
    expect(inside.events).toHaveLength(50);
    // Keys live 1000 ms at one publish per ms; the sweep deletes the expired ones in batches.
    expect(sizes.idempotencyKeys).toBe(20_000);
    const swept = await e.sweep();
    expect(swept.idempotencyKeys).toBe(20_000 - 1000);
    expect(e.internalSizes().idempotencyKeys).toBe(1000);
  });

  it('trims by age on read and sweep, then forgets idle empty channels without listeners', async () => {
    let now = 1_000_000;
    const e = await open({ path: freshPath(), limits: { historyTtlMs: 1000 }, now: () => now });
    const got: number[] = [];
    await e.subscribe('room:kept', (ev) => got.push(ev.offset));
    const epochs = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      now += 1;
      const { event } = await e.publish({ channel: `room:c${i % 30}`, data: i });
      epochs.set(event.channel, event.epoch);
    }
    const kept = await e.publish({ channel: 'room:kept', data: 'x' });
    // Trimmed on write: each channel keeps only the last 1000 ms (about 34 events).
    const stored = e.internalSizes().events;
    expect(stored).toBeLessThanOrEqual(30 * 35 + 1);
    now += 5000;
    // Reads hide expired events before any sweep ran.
    const c0 = epochs.get('room:c0') as string;
    expect(await e.history('room:c0', { since: { epoch: c0, offset: 0 }, limit: 10 })).toMatchObject({
      epoch: c0,
      offset: 100,
      recovered: false,
      events: [],
    });
    expect((await e.history('room:c1', { limit: 10 })).events).toEqual([]);
    const swept = await e.sweep();
    expect(swept).toMatchObject({ events: stored, channels: 30 });
    expect(e.internalSizes()).toMatchObject({ events: 0, channels: 1 });
    // The listened channel kept its epoch; a forgotten one starts over with a new one.
    const again = await e.publish({ channel: 'room:kept', data: 'y' });
    expect(again.event).toMatchObject({ epoch: kept.event.epoch, offset: 2 });
    const reborn = await e.publish({ channel: 'room:c0', data: 'z' });
    expect(reborn.event.offset).toBe(1);
    expect(reborn.event.epoch).not.toBe(c0);
    expect(got).toEqual([1, 2]);
  });

  it('sweeps expired idempotency keys and claims periodically, in batches', async () => {
    let now = 1_000_000;
    const e = await open({
      path: freshPath(),
      limits: { idempotencyTtlMs: 1000 },
      now: () => now,
      sweepIntervalMs: 20,
      sweepBatch: 100,
    });
    for (let i = 0; i < 250; i++) {
      await e.publish({ channel: 'room:p', data: i, idempotencyKey: `p${i}` });
      expect(await e.claim(`ticket-${i}`, 1000)).toBe(true);
    }
    await e.commit({
      task: running('idem'),
      expectedVersion: 0,
      events: [],
      stallAt: null,
      idempotency: { key: 'create', ttlMs: 1000 },
    });
    expect(e.internalSizes()).toMatchObject({ idempotencyKeys: 251, claims: 250 });
    expect(await e.claim('ticket-0', 1000)).toBe(false);
    now += 1000;
    await waitFor(() => {
      const s = e.internalSizes();
      return s.idempotencyKeys === 0 && s.claims === 0;
    });
    expect(await e.lookupIdempotency('create')).toBeNull();
    expect(await e.claim('ticket-0', 1000)).toBe(true);
    expect((await e.publish({ channel: 'room:p', data: 'new', idempotencyKey: 'p0' })).duplicate).toBe(false);
  });
});

describe('sqlite engine: delivery and errors', () => {
  it('delivers in offset order when a listener publishes re-entrantly, only after commit', async () => {
    const e = await open({ path: freshPath() });
    const a: number[] = [];
    const b: number[] = [];
    await e.subscribe('room:x', (ev) => {
      a.push(ev.offset);
      if (ev.offset < 5) void e.publish({ channel: 'room:x', data: ev.offset });
    });
    await e.subscribe('room:x', (ev) => b.push(ev.offset));
    await e.publish({ channel: 'room:x', data: 0 });
    expect(a).toEqual([1, 2, 3, 4, 5]);
    expect(b).toEqual([1, 2, 3, 4, 5]);
    // A rejected commit delivers nothing.
    await e.commit({ task: running('t'), expectedVersion: 0, events: [], stallAt: null });
    const dup = await e.commit({
      task: running('t'),
      expectedVersion: 0,
      events: [{ channel: 'room:x', data: 'no' }],
      stallAt: null,
    });
    expect(dup.ok).toBe(false);
    expect(a).toHaveLength(5);
  });

  it('does not hand an event to a listener added while it is delivered; close drops listeners', async () => {
    const errors: unknown[] = [];
    const e = await open({ path: freshPath(), onListenerError: (err) => errors.push(err) });
    const late: number[] = [];
    let added = false;
    await e.subscribe('room:x', () => {
      if (!added) {
        added = true;
        void e.subscribe('room:x', (ev) => late.push(ev.offset));
      }
      throw new Error('boom');
    });
    await expect(e.publish({ channel: 'room:x', data: 1 })).resolves.toMatchObject({ duplicate: false });
    await e.publish({ channel: 'room:x', data: 2 });
    expect(late).toEqual([2]);
    expect(errors).toHaveLength(2);
    expect(e.stats().subscriptions).toBe(2);
    await e.close();
    expect(e.stats().subscriptions).toBe(0);
    await expect(e.publish({ channel: 'room:x', data: 3 })).rejects.toThrow(/closed/);
  });

  it('refuses to start (a rejection, never a throw) while another connection holds the file, and leaves it alone', async () => {
    const path = freshPath();
    const e = await open({ path });
    await e.publish({ channel: 'room:x', data: 1 });
    const second = createSqliteEngine({ path });
    let started: Promise<void> | undefined;
    expect(() => (started = second.start())).not.toThrow();
    await expect(started).rejects.toMatchObject({
      name: 'DatabaseLockedError',
      holder: process.pid,
      message: expect.stringContaining(`${path} is locked by another taskwire server (pid ${process.pid})`),
    });
    // The database itself stays readable (a backup with the sqlite3 shell works).
    const other = openDatabase(path);
    expect(other.prepare('select count(*) as n from events').get()).toEqual({ n: 1 });
    other.close();
    expect((await e.publish({ channel: 'room:x', data: 2 })).event.offset).toBe(2);
    await e.close();
    const third = await open({ path });
    expect((await third.history('room:x', { limit: 0 })).offset).toBe(2);
  });
});
