/** examples/python-worker/worker.py (python3, standard library only) against a real server, watched over WebSocket. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../../server/test/helpers/server.js';
import { connect, type Frame, type TestSocket } from './helpers/ws-client.js';

const WORKER = fileURLToPath(new URL('../../../examples/python-worker/worker.py', import.meta.url));

function runWorker(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const options = { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 };
    execFile('python3', [WORKER, ...args], options, (err, stdout, stderr) => {
      if (err?.code === 'ENOENT')
        return reject(new Error('python3 is not installed: this test runs the Python example'));
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface TaskData {
  kind: string;
  task?: {
    id: string;
    status: string;
    progress: number | null;
    stage: string | null;
    version: number;
    result: unknown;
  };
  lines?: string[];
}
const dataOf = (f: Frame): TaskData => f.data as TaskData;

describe('the Python worker example', () => {
  let ctx: Awaited<ReturnType<typeof startTestServer>>;
  let ws: TestSocket;

  beforeAll(async () => {
    ctx = await startTestServer();
    ws = await connect(ctx.wsUrl, await ctx.token({ sub: 'pat' }));
    ws.send({ op: 'subscribe', id: 1, channel: 'user:pat' });
    await ws.waitFor((f) => f.type === 'reply' && f.id === 1);
  });
  afterAll(async () => {
    await ws.close();
    await ctx.close();
  });

  it('creates a task, reports progress through stages with logs, and completes it; a subscriber sees it all', async () => {
    const res = await runWorker({ TASKWIRE_URL: ctx.url, TASKWIRE_API_KEY: ctx.apiKey, WORKER_STEP_SECONDS: '0' }, [
      'pat',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const id = res.stdout.trim();
    expect(id).toMatch(/^[A-Za-z0-9_.\-@]{1,128}$/);

    // The final snapshot, read back over HTTP (the polling fallback).
    const snapshot = (await (
      await fetch(`${ctx.url}/api/v1/tasks/${id}`, { headers: { authorization: `Bearer ${ctx.apiKey}` } })
    ).json()) as Record<string, unknown>;
    expect(snapshot).toMatchObject({
      id,
      owner: 'pat',
      title: 'Generate report',
      status: 'succeeded',
      progress: 100,
      stage: 'upload',
      result: { rows: 42 },
    });

    // user:pat saw task.created, then every update in order, ending with the same snapshot.
    const last = await ws.waitFor((f) => f.type === 'event' && dataOf(f).task?.status === 'succeeded');
    const events = ws.frames.filter((f) => f.type === 'event' && dataOf(f).task?.id === id);
    expect(dataOf(events[0]!).kind).toBe('task.created');
    expect(events.slice(1).every((e) => dataOf(e).kind === 'task.updated')).toBe(true);
    expect(events.map((e) => dataOf(e).task?.version)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.offset)).toEqual(events.map((_, i) => Number(events[0]!.offset) + i));
    expect(events.map((e) => dataOf(e).task?.stage).filter((s) => s !== null)).toEqual(
      expect.arrayContaining(['download', 'process', 'upload']),
    );
    expect(dataOf(last).task?.version).toBe(snapshot.version);

    // The log lines are task.log events on task:<id>, kept in its history.
    ws.send({ op: 'subscribe', id: 2, channel: `task:${id}`, history: 100 });
    const reply = await ws.waitFor((f) => f.type === 'reply' && f.id === 2);
    const result = reply.result as { events: Frame[]; snapshot: { status: string } };
    expect(result.snapshot.status).toBe('succeeded');
    const logs = result.events.filter((e) => dataOf(e).kind === 'task.log').flatMap((e) => dataOf(e).lines ?? []);
    expect(logs).toEqual(['read 3 files', 'computed 42 rows']);
  });

  it('exits non-zero with the error code on an HTTP error', async () => {
    const res = await runWorker({ TASKWIRE_URL: ctx.url, TASKWIRE_API_KEY: 'not-the-key', WORKER_STEP_SECONDS: '0' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error unauthorized: /);
  });
});
