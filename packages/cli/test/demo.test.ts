/**
 * Demo mode: `taskwire serve --dev --demo` (sped up with TASKWIRE_DEMO_SPEED)
 * produces every kind of task, observed only through the public HTTP API; an
 * approval is granted over the decision endpoint and the task then finishes;
 * SIGTERM exits 0. And startDemo() on its own: bounded, and stop() really stops.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { countChildren, endOfChildren, followChildren, type Task, type TaskStatus } from '@taskwire/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { startDemo, type Demo } from '../src/demo/index.js';
import { exitOf, runCli, startCli, waitForOutput } from './helpers/run-cli.js';

const SPEED = '20';

/**
 * Tasks whose worker is still at work: top-level (a batch counts one, whatever its
 * children), unfinished, not stalled, and not the dying worker's (short stall
 * timeout), which stays `running` until the server marks it.
 */
const liveWorkers = (tasks: Task[]): number =>
  tasks.filter(
    (t) =>
      t.parentId === null &&
      ['queued', 'running', 'awaiting_approval'].includes(t.status) &&
      t.stallTimeoutMs >= 60_000,
  ).length;

type HistoryEvent = { data: { kind: string; task?: Task; index?: number; text?: string; stream?: string } };

const ended = (t: Task): boolean => ['succeeded', 'failed', 'cancelled'].includes(t.status);

/** Polls `fn` every 100 ms until it returns a value (not undefined), for at most `timeoutMs`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('taskwire serve --dev --demo', () => {
  let server: ChildProcessWithoutNullStreams;
  let base = '';
  let apiKey = '';
  let adminToken = '';
  let banner = '';

  const api = async <T>(method: string, path: string, body?: unknown, token = apiKey): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const list = (status: TaskStatus): Promise<Task[]> =>
    api<{ tasks: Task[] }>('GET', `/tasks?status=${status}&limit=100`).then((p) => p.tasks);

  beforeAll(async () => {
    server = startCli(['serve', '--dev', '--demo', '--engine', 'memory', '--port', '0', '--log-level', 'warn'], {
      TASKWIRE_DEMO_SPEED: SPEED,
    });
    banner = await waitForOutput(server, /Watch them: .*\n/);
    const grab = (label: string): string => {
      const m = new RegExp(`^\\s*${label}:\\s+(\\S+)`, 'm').exec(banner);
      if (!m?.[1]) throw new Error(`no "${label}" line in: ${banner}`);
      return m[1];
    };
    base = grab('HTTP');
    apiKey = grab('API key');
    adminToken = grab('Admin token');
  });
  afterAll(async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await exitOf(server);
  });

  it('says in its banner that the demo runs', () => {
    expect(banner).toMatch(/Demo: simulated workers/);
    expect(banner).toContain('taskwire watch user:alice');
  });

  it('shows succeeded, failed, awaiting_approval and stalled tasks of several owners, at most 8 in flight', async () => {
    const seen = await until('a task in each status', async () => {
      const all = await api<{ tasks: Task[] }>('GET', '/tasks?limit=500').then((p) => p.tasks);
      expect(liveWorkers(all)).toBeLessThanOrEqual(8);
      // The rotation's tasks (the batch and the streamed notes have tests of their own).
      const tasks = all.filter((t) => !['pages', 'page', 'notes'].some((s) => t.meta.scenario === s));
      const [succeeded, failed, awaiting, stalled] = (
        ['succeeded', 'failed', 'awaiting_approval', 'stalled'] as const
      ).map((s) => tasks.filter((t) => t.status === s));
      if ([succeeded, failed, awaiting, stalled].every((l) => l!.length > 0))
        return { succeeded: succeeded!, failed: failed!, awaiting: awaiting!, stalled: stalled! };
      return undefined;
    });
    const all = [...seen.succeeded, ...seen.failed, ...seen.awaiting, ...seen.stalled];
    expect(new Set(all.map((t) => t.owner)).size).toBeGreaterThanOrEqual(2);
    expect(seen.failed[0]!.error?.message).toBeTruthy();
    expect(seen.awaiting[0]!.approval?.prompt).toBeTruthy();
    expect(seen.stalled[0]!.stallTimeoutMs).toBeLessThan(10_000);
    // Stages, messages and log lines, through the public history API.
    const done = seen.succeeded[0]!;
    expect(done.stage).toBeTruthy();
    expect(done.message).toMatch(/ of /);
    const history = await api<{ events: Array<{ data: { kind: string } }> }>(
      'GET',
      `/channels/task:${encodeURIComponent(done.id)}/history?limit=100`,
    );
    const kinds = history.events.map((e) => e.data.kind);
    expect(kinds).toContain('task.log');
    expect(kinds.filter((k) => k === 'task.updated').length).toBeGreaterThanOrEqual(3);
  });

  it('runs a batch of 12 pages that the server ends from its children: the first fails on page 9', async () => {
    const all = async (): Promise<Task[]> => (await api<{ tasks: Task[] }>('GET', '/tasks?limit=500')).tasks;
    const batch = await until('the first batch to end', async () => {
      const first = (await all()).find((t) => t.meta.scenario === 'pages' && t.id.endsWith('-2'));
      return first && ended(first) ? first : undefined;
    });
    expect(batch).toMatchObject({ title: 'Generate 12 concept pages', owner: 'alice', parentId: null });
    expect(batch.batch).toEqual({ progressFrom: 'children', expectedChildren: 12, completeWhen: 'children' });
    const children = (await api<{ tasks: Task[] }>('GET', `/tasks?parent=${batch.id}&limit=100`)).tasks;
    expect(children).toHaveLength(12);
    expect(children.every(ended)).toBe(true);
    expect(batch.children).toEqual(countChildren(children));
    expect(followChildren(batch, children)).toBeNull();
    const end = endOfChildren(countChildren(children), batch.batch!);
    expect({ status: batch.status, error: batch.error }).toEqual(end);
    expect(batch.status).toBe('failed');
    expect(batch.error).toEqual({ code: 'children_failed', message: '1 of 12 children failed' });
    expect(children.find((c) => c.status === 'failed')?.id).toBe(`${batch.id}-page-9`);
    // It ran while its pages were still being created.
    const history = await api<{ events: HistoryEvent[] }>('GET', `/channels/task:${batch.id}/history?limit=1000`);
    const snapshots = history.events.flatMap((e) => (e.data.task ? [e.data.task] : []));
    expect(snapshots.some((t) => t.status === 'running' && t.children !== null && t.children.total < 12)).toBe(true);
    // The pages were created over time and each went at its own pace.
    const created = children.map((c) => Date.parse(c.createdAt));
    expect(Math.max(...created) - Math.min(...created)).toBeGreaterThan(200);
    const durations = children
      .filter((c) => c.startedAt && c.finishedAt)
      .map((c) => Date.parse(c.finishedAt!) - Date.parse(c.startedAt!));
    expect(new Set(durations).size).toBeGreaterThan(6);
    // The next batch succeeds (runs alternate); it starts only once this one is over.
    const tasks = await all();
    const batches = tasks.filter((t) => t.meta.scenario === 'pages' && t.parentId === null);
    expect(batches.filter((t) => !ended(t)).length).toBeLessThanOrEqual(1);
  });

  it('streams the release notes: the stream’s text is its chunks in order, and the task succeeds', async () => {
    const notes = await until('the streamed notes to end', async () => {
      const tasks = (await api<{ tasks: Task[] }>('GET', '/tasks?limit=500')).tasks;
      const first = tasks.find((t) => t.meta.scenario === 'notes' && t.id.endsWith('-3'));
      return first && ended(first) ? first : undefined;
    });
    expect(notes).toMatchObject({ title: 'Draft the release notes', status: 'succeeded' });
    const stream = await api<{ text: string; chunks: number }>('GET', `/tasks/${notes.id}/streams/output`);
    expect(stream.text).toMatch(/^# Release notes: /);
    expect(new TextEncoder().encode(stream.text).length).toBeGreaterThan(1_500);
    expect(notes.streams.output).toEqual({
      chunks: stream.chunks,
      bytes: new TextEncoder().encode(stream.text).length,
    });
    expect(notes.result).toMatchObject({ chunks: stream.chunks });
    const history = await api<{ events: HistoryEvent[] }>('GET', `/channels/task:${notes.id}/history?limit=1000`);
    const chunks = history.events.filter((e) => e.data.kind === 'task.stream').map((e) => e.data);
    expect(chunks.map((c) => c.index)).toEqual(Array.from({ length: stream.chunks }, (_, i) => i));
    expect(chunks.map((c) => c.text).join('')).toBe(stream.text);
    // Its progress moved while it wrote.
    const progress = history.events.flatMap((e) => (e.data.task?.status === 'running' ? [e.data.task.progress] : []));
    expect(new Set(progress).size).toBeGreaterThan(3);
  });

  it('an approved task goes back to running and then succeeds', async () => {
    const [waiting] = await until('an awaiting task', async () => {
      const l = await list('awaiting_approval');
      return l.length > 0 ? l : undefined;
    });
    const decided = await api<Task>(
      'POST',
      `/tasks/${encodeURIComponent(waiting!.id)}/decision`,
      { decision: 'approve', comment: 'ship it' },
      adminToken,
    );
    expect(decided.status).toBe('running');
    const final = await until('the approved task to finish', async () => {
      const t = await api<Task>('GET', `/tasks/${encodeURIComponent(waiting!.id)}`);
      return t.status === 'running' ? undefined : t;
    });
    expect(final.status).toBe('succeeded');
    expect(final.approval).toMatchObject({ decision: 'approve', comment: 'ship it' });
  });

  it('publishes to room:demo', async () => {
    const history = await until('a room:demo event', async () => {
      const h = await api<{ events: Array<{ data: { kind: string } }> }>('GET', '/channels/room:demo/history?limit=5');
      return h.events.length > 0 ? h : undefined;
    });
    expect(history.events[0]!.data.kind).toBe('demo.stats');
  });

  it('stops with exit 0 on SIGTERM, promptly', async () => {
    const started = Date.now();
    server.kill('SIGTERM');
    expect(await exitOf(server)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('serve --demo refusals', () => {
  it('--demo outside --dev without secrets exits 2', async () => {
    const res = await runCli(['serve', '--demo', '--port', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--demo outside --dev runs with an API key, and stops on SIGTERM', async () => {
    const child = startCli([
      'serve',
      '--demo',
      '--engine',
      'memory',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--jwt-secret',
      'a-test-secret-that-is-at-least-32-bytes-long',
      '--api-key',
      'a-test-api-key',
    ]);
    try {
      const out = await waitForOutput(child, /Watch them: .*\n/);
      expect(out).not.toContain('dev mode');
      expect(out).toContain('TASKWIRE_JWT_SECRET');
      child.kill('SIGTERM');
      expect(await exitOf(child)).toEqual({ code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
    }
  });

  it('a bad TASKWIRE_DEMO_SPEED exits 2 naming it', async () => {
    const res = await runCli(['serve', '--dev', '--demo', '--engine', 'memory', '--port', '0'], {
      TASKWIRE_DEMO_SPEED: 'fast',
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('TASKWIRE_DEMO_SPEED');
  });

  it('serve --help documents --demo', async () => {
    const res = await runCli(['serve', '--help']);
    expect(res.stdout).toContain('--demo');
  });
});

describe('startDemo()', () => {
  let ctx: TestServer;
  let demo: Demo | undefined;
  beforeAll(async () => {
    ctx = await startTestServer();
  });
  afterAll(async () => {
    await demo?.stop();
    await ctx.close();
  });

  it('runs batches one at a time, alternating a failing run and a succeeding one', async () => {
    const own = await startTestServer();
    const d = startDemo({ url: own.url, apiKey: own.apiKey, speed: 100, maxInFlight: 3 });
    try {
      const batches = await until(
        'two batches to end',
        async () => {
          const { body } = await own.api<{ tasks: Task[] }>('GET', '/tasks?limit=500');
          const mine = body.tasks
            .filter((t) => t.meta.scenario === 'pages' && t.parentId === null)
            .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
          expect(mine.filter((t) => !ended(t)).length).toBeLessThanOrEqual(1);
          return mine.filter(ended).length >= 2 ? mine : undefined;
        },
        60_000,
      );
      expect(batches.slice(0, 2).map((t) => t.status)).toEqual(['failed', 'succeeded']);
      expect(Date.parse(batches[1]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(batches[0]!.finishedAt!));
    } finally {
      await d.stop();
      await own.close();
    }
  });

  it('keeps at most maxInFlight workers, and after stop() sends nothing more', async () => {
    demo = startDemo({ url: ctx.url, apiKey: ctx.apiKey, speed: 50, maxInFlight: 2 });
    await until('a few tasks', async () => {
      const { body } = await ctx.api<{ tasks: Task[] }>('GET', '/tasks?limit=500');
      expect(liveWorkers(body.tasks)).toBeLessThanOrEqual(2);
      return body.tasks.length >= 5 ? true : undefined;
    });
    const started = Date.now();
    await demo.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    const snapshot = async (): Promise<string> => {
      const { body } = await ctx.api<{ tasks: Task[] }>('GET', '/tasks?limit=500');
      // The server may still mark the dying worker's task stalled (its timeout is short): not a demo request.
      return JSON.stringify(body.tasks.map((t) => [t.id, t.stallTimeoutMs >= 60_000 ? t.version : 0]));
    };
    const before = await snapshot();
    await new Promise((r) => setTimeout(r, 500));
    expect(await snapshot()).toBe(before);
  });
});
