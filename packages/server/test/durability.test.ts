/**
 * Durability of the SQLite engine with real processes (issue 4, failure mode 7):
 * a server killed with SIGKILL mid-stream restarts on its database and every client
 * recovers gapless; retention keeps the file bounded; a graceful restart keeps tasks,
 * versions and stall deadlines. The first and last tests run the built CLI
 * (`npm run build` first); the retention test runs an in-process server.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { signDevToken, type DevTokenClaims } from '../src/config/resolve.js';
import { exitWithin, freePort, killAll, startServe, type ServeProcess } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';
import { TestClient, eventually, type Frame } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-durability-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

// Fixed secrets: tokens signed before a restart stay valid after it.
const JWT_SECRET = 'durability-jwt-secret-0123456789abcdef0123456789';
const API_KEY = 'durability-api-key-0123456789abcdef';
const sign = (claims: DevTokenClaims): Promise<string> =>
  signDevToken({ jwtSecret: JWT_SECRET, jwtAlgorithm: 'HS256' }, claims);

function serveArgs(port: number, db: string, extra: string[] = []): string[] {
  return [
    '--dev',
    '--port',
    String(port),
    '--db',
    db,
    '--jwt-secret',
    JWT_SECRET,
    '--api-key',
    API_KEY,
    '--log-level',
    'warn',
    ...extra,
  ];
}

interface Position {
  epoch: string;
  offset: number;
}

interface HttpResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

/** One HTTP call with the API key, bounded; network errors reject (the server may be dead). */
async function call(base: string, method: string, path: string, body?: unknown): Promise<HttpResult> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** A channel's whole retained log from `since` on, read page by page over HTTP (all or nothing). */
async function readLog(base: string, channel: string, since: Position): Promise<{ top: number; events: Frame[] }> {
  const events: Frame[] = [];
  let offset = since.offset;
  for (let page = 0; page < 10_000; page++) {
    const q = `since=${encodeURIComponent(`${since.epoch}:${offset}`)}&limit=1000`;
    const r = await call(base, 'GET', `/channels/${channel}/history?${q}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body, `${channel} readable from ${since.epoch}:${offset}`).toMatchObject({
      epoch: since.epoch,
      recovered: true,
    });
    const got = r.body.events as Frame[];
    events.push(...got);
    const last = got.at(-1);
    if (!last || (last.offset as number) >= (r.body.offset as number)) return { top: r.body.offset as number, events };
    offset = last.offset as number;
  }
  throw new Error(`${channel}: history did not end`);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const offsetsOf = (events: Frame[]): number[] => events.map((e) => e.offset as number);
const versionsOf = (events: Frame[]): number[] => events.map((e) => e.data.task.version as number);

/**
 * A WebSocket client that records every event per channel and, whenever its
 * connection drops, reconnects (bounded, with jitter) and resubscribes each channel
 * with `since` = the last position it saw. Replies and events are recorded in the
 * order they arrive (in `onFrame`), so replayed events and live ones interleave
 * exactly as the server sent them.
 */
class Watcher {
  readonly events = new Map<string, Frame[]>();
  /** Position of each channel at the first subscribe. */
  readonly start = new Map<string, Position>();
  /** Results of every subscribe sent with `since`. */
  readonly resubscribes: Frame[] = [];
  readonly closeCodes: number[] = [];
  failure: string | null = null;
  private readonly last = new Map<string, Position>();
  private client: TestClient | null = null;
  private stopped = false;
  private reconnecting: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly token: string,
    readonly channels: readonly string[],
  ) {
    for (const ch of channels) this.events.set(ch, []);
  }

  lastOffset(channel: string): number {
    return this.last.get(channel)?.offset ?? -1;
  }

  /** Connect, authenticate and (re)subscribe every channel; rejects if the connection drops meanwhile. */
  async connect(): Promise<void> {
    const c = await TestClient.connect(this.url, {
      inbox: (f) => f.type !== 'event',
      onFrame: (f) => this.onFrame(f),
    });
    this.client = c;
    const dropped = c.closed.then(() => Promise.reject(new Error(`${this.name}: connection closed`)));
    dropped.catch(() => undefined);
    c.send({ op: 'auth', token: this.token });
    await Promise.race([c.next((f) => f.type === 'welcome', `${this.name} welcome`), dropped]);
    for (const channel of this.channels) {
      const since = this.last.get(channel);
      const r = await Promise.race([c.request({ op: 'subscribe', channel, ...(since ? { since } : {}) }), dropped]);
      if (r.error) throw new Error(`${this.name}: subscribe ${channel} failed: ${JSON.stringify(r.error)}`);
    }
    void c.closed.then(({ code }) => this.onClose(c, code));
  }

  /** Stop reconnecting, close the socket, wait for a reconnect loop in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.client?.close();
    await this.reconnecting;
  }

  private onFrame(f: Frame): void {
    if (f.type === 'event') this.record(f);
    else if (f.type === 'reply' && f.result && typeof f.result.channel === 'string') {
      const { channel, epoch, offset } = f.result as { channel: string; epoch: string; offset: number };
      if ('recovered' in f.result) {
        this.resubscribes.push(f.result as Frame);
        if (f.result.recovered === true) for (const ev of f.result.events as Frame[]) this.record(ev);
      } else if (!this.start.has(channel)) {
        this.start.set(channel, { epoch, offset });
        this.last.set(channel, { epoch, offset });
      }
    }
  }

  private record(ev: Frame): void {
    const channel = ev.channel as string;
    this.events.get(channel)?.push(ev);
    this.last.set(channel, { epoch: ev.epoch as string, offset: ev.offset as number });
  }

  private onClose(c: TestClient, code: number): void {
    if (this.stopped || c !== this.client) return;
    this.closeCodes.push(code);
    this.reconnecting = this.reconnect();
  }

  /** Retry until connected and resubscribed, for at most 30 s; never rejects (a failure is recorded). */
  private async reconnect(): Promise<void> {
    const deadline = Date.now() + 30_000;
    let lastError = '';
    for (let attempt = 1; attempt <= 1000 && Date.now() < deadline; attempt++) {
      await sleep(20 + Math.random() * 80);
      if (this.stopped) return;
      try {
        await this.connect();
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    this.failure = `${this.name}: could not reconnect: ${lastError}`;
  }
}

describe('durability: SQLite engine with a real server process', () => {
  it('a server killed with SIGKILL while 20 clients receive a steady stream restarts on the same database and every client recovers gapless', async () => {
    const port = await freePort();
    const db = join(dir, 'sigkill.db');
    // History and recovery limits above the whole stream: every missed event is recoverable.
    const args = serveArgs(port, db, ['--history-size', '100000', '--recovery-limit', '100000']);
    let server: ServeProcess = await startServe(args);
    const base = server.url;
    const TASK = 'durable-1';
    const ROOM = 'room:durable';
    const taskChannel = `task:${TASK}`;

    expect((await call(base, 'POST', '/tasks', { id: TASK, owner: 'alice', stallTimeoutMs: 0 })).status).toBe(201);
    expect((await call(base, 'PATCH', `/tasks/${TASK}`, { status: 'running' })).status).toBe(200);
    const opened = await call(base, 'POST', `/channels/${ROOM}/publish`, { data: { n: 0 } });
    expect(opened.status).toBe(200);
    const roomEpoch = opened.body.epoch as string;

    // 20 clients: admins, the task's owner (with a room grant) and viewers with `channels` claims.
    const watchers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        let token: string;
        let channels: string[];
        if (i % 3 === 0) {
          token = await sign({ sub: `admin-${i}`, admin: true });
          channels = [taskChannel, ROOM];
        } else if (i % 3 === 1) {
          token = await sign({ sub: 'alice', channels: [ROOM] });
          channels = [taskChannel, 'user:alice', ROOM];
        } else {
          token = await sign({ sub: `viewer-${i}`, channels: ['task:durable-*', 'room:*'] });
          channels = [taskChannel, ROOM];
        }
        return new Watcher(`client-${i}`, server.wsUrl, token, channels);
      }),
    );
    try {
      await Promise.all(watchers.map((w) => w.connect()));

      // The stream: two workers PATCH the task, two publish to the room, until told to stop.
      const taskAcks = new Map<number, string>(); // version → message
      const roomAcks = new Map<number, number>(); // offset → n
      const unexpected: string[] = [];
      let networkErrors = 0;
      let seq = 0;
      let stop = false;
      const worker = async (kind: 'task' | 'room'): Promise<void> => {
        for (let i = 0; i < 1_000_000 && !stop; i++) {
          const n = ++seq;
          try {
            if (kind === 'task') {
              const message = `m${n}`;
              const r = await call(base, 'PATCH', `/tasks/${TASK}`, { progress: n % 101, message });
              if (r.status === 200) taskAcks.set(r.body.version as number, message);
              else unexpected.push(`PATCH ${r.status} ${JSON.stringify(r.body)}`);
            } else {
              const r = await call(base, 'POST', `/channels/${ROOM}/publish`, { data: { n } });
              if (r.status === 200) roomAcks.set(r.body.offset as number, n);
              else unexpected.push(`publish ${r.status} ${JSON.stringify(r.body)}`);
            }
          } catch {
            // The server is down (or the request was cut by the kill): not acknowledged.
            networkErrors += 1;
            await sleep(10);
          }
        }
      };
      const acked = (): number => taskAcks.size + roomAcks.size;
      const beforeKill = { task: new Map<number, string>(), room: new Map<number, number>() };
      const workers = [worker('task'), worker('task'), worker('room'), worker('room')];
      try {
        await eventually(() => acked() >= 1500, '1500 acknowledged writes before the kill', 30_000);
        for (const [k, v] of taskAcks) beforeKill.task.set(k, v);
        for (const [k, v] of roomAcks) beforeKill.room.set(k, v);
        server.child.kill('SIGKILL');
        expect(await exitWithin(server)).toMatchObject({ signal: 'SIGKILL' });
        await eventually(
          () => watchers.every((w) => w.closeCodes.length > 0),
          'every client saw its connection drop',
          15_000,
        );

        server = await startServe(args);
        const afterRestart = acked();
        await eventually(() => acked() >= afterRestart + 1000, '1000 acknowledged writes after the restart', 30_000);
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      expect(unexpected).toEqual([]);

      // The restarted server holds the whole log, in the same epochs, with every acknowledged write.
      const taskStart = watchers[0]!.start.get(taskChannel)!;
      const taskLog = await readLog(base, taskChannel, { epoch: taskStart.epoch, offset: 0 });
      const roomLog = await readLog(base, ROOM, { epoch: roomEpoch, offset: 0 });
      const userStart = watchers[1]!.start.get('user:alice')!;
      const userLog = await readLog(base, 'user:alice', { epoch: userStart.epoch, offset: 0 });
      const final = await call(base, 'GET', `/tasks/${TASK}`);
      expect(final.status).toBe(200);

      expect(offsetsOf(taskLog.events)).toEqual(range(1, taskLog.top));
      expect(versionsOf(taskLog.events)).toEqual(range(1, taskLog.top)); // no logs: offset = version
      expect(taskLog.events.at(-1)?.data.task).toEqual(final.body);
      expect(offsetsOf(roomLog.events)).toEqual(range(1, roomLog.top));
      expect(versionsOf(userLog.events)).toEqual(range(1, final.body.version as number));

      // Every write acknowledged (2xx) before the SIGKILL, and after the restart, is in the log at its position.
      const byOffset = (log: { events: Frame[] }, offset: number): Frame | undefined => log.events[offset - 1];
      const lostTask = (acks: Map<number, string>): number[] =>
        [...acks].filter(([v, m]) => byOffset(taskLog, v)?.data.task.message !== m).map(([v]) => v);
      const lostRoom = (acks: Map<number, number>): number[] =>
        [...acks].filter(([o, n]) => byOffset(roomLog, o)?.data.n !== n).map(([o]) => o);
      expect(beforeKill.task.size + beforeKill.room.size).toBeGreaterThanOrEqual(1500);
      expect(lostTask(beforeKill.task), 'task updates acknowledged before SIGKILL, lost').toEqual([]);
      expect(lostRoom(beforeKill.room), 'publishes acknowledged before SIGKILL, lost').toEqual([]);
      expect(lostTask(taskAcks), 'acknowledged task updates, lost').toEqual([]);
      expect(lostRoom(roomAcks), 'acknowledged publishes, lost').toEqual([]);

      // Every client reaches the final state, with each channel gapless and duplicate-free.
      const logs = new Map([
        [taskChannel, taskLog],
        [ROOM, roomLog],
        ['user:alice', userLog],
      ]);
      await eventually(
        () =>
          watchers.every((w) => w.failure !== null || w.channels.every((ch) => w.lastOffset(ch) >= logs.get(ch)!.top)),
        'every client received up to the final offsets',
        30_000,
      );
      await Promise.all(watchers.map((w) => w.stop()));

      for (const w of watchers) {
        expect(w.failure).toBeNull();
        for (const ch of w.channels) {
          const log = logs.get(ch)!;
          const start = w.start.get(ch)!;
          const got = w.events.get(ch)!;
          const resubscribes = w.resubscribes.filter((r) => r.channel === ch);
          expect(resubscribes.length, `${w.name} ${ch} resubscribed`).toBeGreaterThan(0);
          for (const r of resubscribes) expect(r, `${w.name} ${ch}`).toMatchObject({ recovered: true });
          expect(new Set(got.map((e) => e.epoch as string)), `${w.name} ${ch} epochs`).toEqual(new Set([start.epoch]));
          expect(offsetsOf(got), `${w.name} ${ch} offsets`).toEqual(range(start.offset + 1, log.top));
          expect(
            got.map((e) => e.data as unknown),
            `${w.name} ${ch} data`,
          ).toEqual(log.events.slice(start.offset).map((e) => e.data as unknown));
          if (ch !== ROOM) {
            const versions = versionsOf(got);
            expect(versions.slice(1), `${w.name} ${ch} versions +1`).toEqual(versions.slice(0, -1).map((v) => v + 1));
            expect(versions.at(-1)).toBe(final.body.version);
          }
        }
      }
      // The stream really was cut: the kill lost connections and in-flight requests, not acknowledged writes.
      expect(networkErrors).toBeGreaterThan(0);
      // Both streams ran on both sides of the kill.
      expect(beforeKill.task.size).toBeGreaterThan(0);
      expect(beforeKill.room.size).toBeGreaterThan(0);
      expect(taskAcks.size).toBeGreaterThan(beforeKill.task.size);
      expect(roomAcks.size).toBeGreaterThan(beforeKill.room.size);
    } finally {
      // Idempotent: also ends reconnect loops when an assertion above failed.
      await Promise.all(watchers.map((w) => w.stop()));
    }
  });

  it('with low retention the database stays bounded under a steady stream, and old positions answer recovered:false with the snapshot', async () => {
    const path = join(dir, 'retention.db');
    const HISTORY = 20;
    const TTL_MS = 3000;
    const t = await startTestServer({ engine: 'sqlite', db: path, historySize: HISTORY, historyTtlMs: TTL_MS });
    const probe = new Database(path);
    try {
      const tasks = ['r-1', 'r-2', 'r-3', 'r-4'];
      const owners = ['alice', 'bob'];
      for (const [i, id] of tasks.entries()) {
        expect((await t.api('POST', '/tasks', { id, owner: owners[i % 2], stallTimeoutMs: 0 })).status).toBe(201);
      }
      const token = await t.token({ sub: 'admin', admin: true });
      const early = new Map<string, Position>();
      const first = await TestClient.authed(t.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      for (const id of tasks) {
        const r = await first.request({ op: 'subscribe', channel: `task:${id}` });
        early.set(id, { epoch: r.result.epoch as string, offset: r.result.offset as number });
      }
      first.close();

      /** Checkpoint the WAL into the main file (so its size is the data's), then measure. */
      const measure = (): { bytes: number; walBytes: number; events: number; channels: number } => {
        const walBytes = statSync(`${path}-wal`).size;
        const [cp] = probe.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
        expect(cp?.busy).toBe(0);
        const count = (table: string): number =>
          probe.prepare<[], number>(`select count(*) from ${table}`).pluck().get() ?? 0;
        return { bytes: statSync(path).size, walBytes, events: count('events'), channels: count('channels') };
      };

      // 20,000 updates over 4 tasks (~10 minutes of a busy worker each second, scaled down).
      let written = 0;
      let sent = 0;
      /**
       * `count` more updates, round-robin over the tasks, 16 in flight. They go through
       * the task service (what PATCH /tasks/:id calls), so 20,000 take seconds, not minutes.
       */
      const stream = async (count: number): Promise<void> => {
        const end = sent + count;
        const worker = async (): Promise<void> => {
          while (sent < end) {
            const i = sent++;
            const id = tasks[i % tasks.length]!;
            const task = await t.server.ctx.tasks.update(id, { progress: (i % 1000) / 10, message: `update ${i}` });
            written += 2 * JSON.stringify(task).length; // its task: and user: events
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
      };
      await stream(5000);
      const warm = measure();
      await stream(15_000);
      const end = measure();

      // 4 task channels and 2 user channels, each keeping at most HISTORY events.
      expect(end.channels).toBe(6);
      expect(end.events).toBeLessThanOrEqual(HISTORY * end.channels);
      expect(warm.events).toBeLessThanOrEqual(HISTORY * warm.channels);
      // Freed pages are reused: the file does not grow with the stream, and is a small
      // fraction of what was written (about 20,000 × 2 events).
      expect(end.bytes).toBeLessThanOrEqual(Math.max(2 * warm.bytes, warm.bytes + 256 * 1024));
      expect(end.bytes).toBeLessThan(written / 20);
      // The WAL is recycled at each automatic checkpoint (1000 pages, about 4 MiB) rather than growing.
      expect(end.walBytes).toBeLessThan(16 * 1024 * 1024);

      // Positions from before the stream were trimmed: recovered:false, no events, the snapshot.
      const c = await TestClient.authed(t.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      for (const id of tasks) {
        const current = await t.api('GET', `/tasks/${id}`);
        const r = await c.request({ op: 'subscribe', channel: `task:${id}`, since: early.get(id) });
        expect(r.result).toMatchObject({
          recovered: false,
          events: [],
          epoch: early.get(id)!.epoch,
          offset: current.body.version, // no logs: offset = version
        });
        expect(r.result.snapshot).toEqual(current.body);
      }
      c.close();

      // A recent position still recovers (the control), until it is older than the TTL.
      const patched = await t.api('PATCH', '/tasks/r-1', { progress: 100, message: 'last' });
      const top = patched.body.version as number;
      const recent = { epoch: early.get('r-1')!.epoch, offset: top - 5 };
      const d = await TestClient.authed(t.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      const ok = await d.request({ op: 'subscribe', channel: 'task:r-1', since: recent });
      expect(ok.result).toMatchObject({ recovered: true, offset: top });
      expect(offsetsOf(ok.result.events as Frame[])).toEqual(range(top - 4, top));
      d.close();
      await sleep(TTL_MS + 200);
      const e = await TestClient.authed(t.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      const aged = await e.request({ op: 'subscribe', channel: 'task:r-1', since: recent });
      expect(aged.result).toMatchObject({ recovered: false, events: [], offset: top, snapshot: patched.body });
      e.close();
    } finally {
      probe.close();
      await t.close();
    }
  });

  it('tasks, versions and stall deadlines survive a graceful restart', async () => {
    const port = await freePort();
    const db = join(dir, 'graceful.db');
    // The first run never sweeps for stalls, so the short deadline can only pass while the server is down.
    const first = await startServe(serveArgs(port, db, ['--stall-sweep-ms', '600000']));
    const base = first.url;
    const ok = async (method: string, path: string, body?: unknown): Promise<HttpResult> => {
      const r = await call(base, method, path, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
      return r;
    };
    await ok('POST', '/tasks', { id: 'g-queued', owner: 'alice', title: 'waits' });
    await ok('POST', '/tasks', { id: 'g-running', owner: 'alice', stallTimeoutMs: 3_600_000, meta: { k: 1 } });
    await ok('PATCH', '/tasks/g-running', { progress: 40, stage: 'outline', message: '2 of 5' });
    await ok('POST', '/tasks/g-running/logs', { lines: ['one', 'two'] });
    await ok('POST', '/tasks', { id: 'g-done', owner: 'bob' });
    await ok('PATCH', '/tasks/g-done', { status: 'running' });
    await ok('PATCH', '/tasks/g-done', { status: 'succeeded', result: { url: 'https://example.test/r' } });
    await ok('POST', '/tasks', { id: 'g-approval', owner: 'alice' });
    await ok('PATCH', '/tasks/g-approval', { status: 'running' });
    await ok('POST', '/tasks/g-approval/approval', { prompt: 'Ship it?', options: ['approve', 'reject'] });
    await ok('POST', '/tasks', { id: 'g-stall', owner: 'bob', stallTimeoutMs: 1500 });
    const stalling = await ok('PATCH', '/tasks/g-stall', { progress: 10 });
    const deadline = Date.parse(stalling.body.updatedAt as string) + 1500;
    expect(stalling.body.status).toBe('running');

    const before = (await ok('GET', '/tasks?limit=100')).body.tasks as Frame[];
    expect(before).toHaveLength(5);
    const positions = new Map<string, Position>();
    for (const ch of [...before.map((x) => `task:${x.id as string}`), 'user:alice', 'user:bob']) {
      const h = await ok('GET', `/channels/${ch}/history?limit=0`);
      positions.set(ch, { epoch: h.body.epoch as string, offset: h.body.offset as number });
    }

    first.child.kill('SIGTERM');
    expect(await exitWithin(first)).toEqual({ code: 0, signal: null });
    // The stall deadline passes while nothing is running.
    await sleep(Math.max(0, deadline - Date.now()) + 100);

    const second = await startServe(serveArgs(port, db, ['--stall-sweep-ms', '50']));
    try {
      let stalled: Frame | null = null;
      for (let i = 0; i < 200 && !stalled; i++) {
        const r = await ok('GET', '/tasks/g-stall');
        if (r.body.status === 'stalled') stalled = r.body as Frame;
        else await sleep(25);
      }
      expect(stalled, 'g-stall marked stalled after the restart').not.toBeNull();
      // Many more sweeps: it is marked once, and nothing else changes.
      await sleep(500);
      const after = (await ok('GET', '/tasks?limit=100')).body.tasks as Frame[];
      const expected = before.map((x) =>
        x.id === 'g-stall'
          ? { ...x, status: 'stalled', version: (x.version as number) + 1, updatedAt: stalled!.updatedAt as string }
          : x,
      );
      expect(after).toEqual(expected);
      expect(Date.parse(stalled!.updatedAt as string)).toBeGreaterThanOrEqual(deadline);

      // Same epochs and offsets; the only new events are the one stall, on the task's and its owner's channels.
      for (const [ch, pos] of positions) {
        const h = await ok('GET', `/channels/${ch}/history?since=${encodeURIComponent(`${pos.epoch}:${pos.offset}`)}`);
        expect(h.body, ch).toMatchObject({ epoch: pos.epoch, recovered: true });
        const events = h.body.events as Frame[];
        if (ch === 'task:g-stall' || ch === 'user:bob') {
          expect(events, ch).toHaveLength(1);
          expect(events[0]!.data).toEqual({ kind: 'task.updated', task: stalled });
        } else expect(events, ch).toEqual([]);
      }
    } finally {
      second.child.kill('SIGTERM');
      expect(await exitWithin(second)).toEqual({ code: 0, signal: null });
    }
  });
});
