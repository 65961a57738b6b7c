/**
 * BullMQ flows as taskwire batches, against real parts: a redis-server, real BullMQ
 * FlowProducer, queues and workers, a real taskwire server. The parents' queue is
 * bridged in this process, the children's queue by a bridge in a process of its own
 * (the built package: `npm run build` first): the two create each parent task from
 * different sides, and it exists once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { Task } from '@taskwire/protocol';
import { createBackend } from '@taskwire/client/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, stopAllRedis, type RedisServer } from '../../engine-redis/test/helpers/redis.js';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { bridgeQueue, taskIdFor } from '../src/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/bridge-process.mjs', import.meta.url));

interface JobData {
  n: number;
  user: string;
  fail?: boolean;
}

let redis: RedisServer;
let server: TestServer;
let child: ChildProcess | null = null;
let childOut = '';
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer();
});

afterAll(async () => {
  child?.kill('SIGKILL');
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await server?.close();
  await stopAllRedis();
});

async function until(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(id: string): Promise<Task | null> {
  const res = await server.api<Task>('GET', `/tasks/${id}`);
  return res.status === 200 ? res.body : null;
}

async function childrenOf(id: string): Promise<Task[]> {
  const res = await server.api<{ tasks: Task[] }>('GET', `/tasks?parent=${id}&limit=500`);
  return res.body.tasks;
}

/** Every snapshot the task's channel carried, in order. */
async function snapshots(id: string): Promise<Task[]> {
  const res = await server.api<{ events: Array<{ data: { kind: string; task?: Task } }> }>(
    'GET',
    `/channels/task:${id}/history?limit=1000`,
  );
  return res.body.events.flatMap((e) => (e.data.task ? [e.data.task] : []));
}

describe('BullMQ flows as batches', () => {
  it('a flow is a parent task whose progress follows its children, ending with its own job; a failing child fails it with failParentOnFailure', async () => {
    const tag = randomUUID().slice(0, 8);
    const parents = `flow-p-${tag}`;
    const kids = `flow-c-${tag}`;
    const connection = { host: '127.0.0.1', port: redis.port };
    const parentQueue = new Queue<JobData>(parents, { connection });
    closers.push(() => parentQueue.close());
    const backend = createBackend({ url: server.url, apiKey: server.apiKey, retryMinMs: 50, retryMaxMs: 500 });
    const errors: string[] = [];
    const bridge = bridgeQueue(parentQueue, {
      backend,
      owner: (job) => (job.data as JobData).user,
      title: (job) => `${job.name} ${(job.data as JobData).n}`,
      lockTtlMs: 1500,
      onError: (err) => errors.push(String(err)),
    });
    closers.push(() => bridge.close());
    child = spawn(process.execPath, [FIXTURE], {
      env: {
        ...process.env,
        TWB_REDIS_PORT: String(redis.port),
        TWB_QUEUE: kids,
        TWB_URL: server.url,
        TWB_API_KEY: server.apiKey,
        TWB_LOCK_TTL_MS: '1500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (b: Buffer) => (childOut += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (childOut += b.toString()));
    await bridge.ready;
    await until(
      () => /role leader/.test(childOut),
      20_000,
      () => childOut,
    );

    const flows = new FlowProducer({ connection });
    closers.push(() => flows.close());
    const ok = await flows.add({
      name: 'merge',
      queueName: parents,
      data: { n: 0, user: 'ann' },
      children: [1, 2, 3, 4, 5].map((n) => ({ name: 'part', queueName: kids, data: { n, user: 'ann' } })),
    });
    const bad = await flows.add({
      name: 'merge',
      queueName: parents,
      data: { n: 100, user: 'ben' },
      children: [101, 102, 103].map((n) => ({
        name: 'part',
        queueName: kids,
        data: { n, user: 'ben', fail: n === 102 },
        opts: { failParentOnFailure: true, attempts: 1 },
      })),
    });
    // Three levels: a part that is itself the parent of two parts.
    const nested = await flows.add({
      name: 'merge',
      queueName: parents,
      data: { n: 200, user: 'cyd' },
      children: [
        {
          name: 'part',
          queueName: kids,
          data: { n: 201, user: 'cyd' },
          children: [202, 203].map((n) => ({ name: 'part', queueName: kids, data: { n, user: 'cyd' } })),
        },
      ],
    });
    const okId = taskIdFor(parents, ok.job.id!);
    const nestId = taskIdFor(parents, nested.job.id!);
    const midId = taskIdFor(kids, nested.children![0]!.job.id!);
    const badId = taskIdFor(parents, bad.job.id!);
    // Every task exists before any job runs: created by whichever bridge came first.
    await until(
      async () =>
        (await childrenOf(okId)).length === 5 &&
        (await childrenOf(badId)).length === 3 &&
        (await childrenOf(midId)).length === 2,
      20_000,
      () => `children not all created: ${childOut} ${errors.join('\n')}`,
    );
    const created = await get(okId);
    expect(created).toMatchObject({
      status: 'queued',
      owner: 'ann',
      title: 'merge 0',
      progress: 0,
      batch: { progressFrom: 'children', completeWhen: 'self', expectedChildren: 5 },
      children: { total: 5, queued: 5 },
    });

    // The children run one at a time; the parents after them, reporting progress of their own.
    const partWorker = new Worker<JobData>(
      kids,
      async (job: Job<JobData>) => {
        await job.updateProgress(50);
        await new Promise((r) => setTimeout(r, 30));
        if (job.data.fail) throw new Error(`part ${job.data.n} broke`);
        return job.data.n;
      },
      { connection, concurrency: 1 },
    );
    closers.push(() => partWorker.close());
    const mergeWorker = new Worker<JobData>(
      parents,
      async (job: Job<JobData>) => {
        await job.updateProgress({ pct: 50, stage: 'merge', message: 'merging parts' });
        const values = Object.values(await job.getChildrenValues<number>());
        return values.reduce((a, b) => a + b, 0);
      },
      { connection },
    );
    closers.push(() => mergeWorker.close());

    await until(
      async () =>
        (await get(okId))?.status === 'succeeded' &&
        (await get(badId))?.status === 'failed' &&
        (await get(nestId))?.status === 'succeeded',
      20_000,
      () => `parents not ended: ${childOut} ${errors.join('\n')}`,
    );
    expect(await ok.job.getState()).toBe('completed');
    expect(await bad.job.getState()).toBe('failed');

    const done = (await get(okId))!;
    expect(done).toMatchObject({ result: 15, progress: 100, stage: 'merge', message: 'merging parts' });
    expect(done.children).toMatchObject({ total: 5, succeeded: 5 });
    const okSnaps = await snapshots(okId);
    expect(okSnaps.map((s) => s.version)).toEqual(okSnaps.map((_, i) => i + 1));
    // Running once its children ran (protocol §8: a parent runs once a child does), its
    // progress theirs (5 slots); then its own job ran (its `active` may overtake its last
    // child's `completed`: two queues, two event streams).
    const whileRunning = okSnaps.filter((s) => s.status === 'running').map((s) => s.progress);
    expect(whileRunning).toEqual(expect.arrayContaining([10, 20, 30, 40]));
    expect(okSnaps.filter((s) => s.status === 'queued').every((s) => s.progress === 0)).toBe(true);
    expect(okSnaps.some((s) => s.status === 'running' && s.stage === 'merge')).toBe(true);

    const failed = (await get(badId))!;
    expect(failed.error?.message).toMatch(/^child .+ failed$/);
    expect(failed.children?.total).toBe(3);
    expect(failed.children?.failed).toBe(1);
    for (const kid of await childrenOf(badId)) expect(kid.owner).toBe('ben');

    // The nested flow: a batch in a batch, each ending with its own job.
    const mid = (await get(midId))!;
    expect(mid).toMatchObject({
      parentId: nestId,
      status: 'succeeded',
      result: 201,
      children: { total: 2, succeeded: 2 },
    });
    expect(mid.batch).toMatchObject({ expectedChildren: 2, completeWhen: 'self' });
    expect((await get(nestId))!).toMatchObject({ result: 201, children: { total: 1, succeeded: 1 } });

    // One task per job, none twice, every child in its batch; nothing reported.
    const all = [...(await server.api<{ tasks: Task[] }>('GET', '/tasks?owner=ann&limit=500')).body.tasks];
    for (const owner of ['ben', 'cyd'])
      all.push(...(await server.api<{ tasks: Task[] }>('GET', `/tasks?owner=${owner}&limit=500`)).body.tasks);
    expect(all).toHaveLength(14);
    expect(new Set(all.map((t) => t.id)).size).toBe(14);
    expect(
      all
        .filter((t) => t.parentId === null)
        .map((t) => t.id)
        .sort(),
    ).toEqual([okId, badId, nestId].sort());
    expect(errors).toEqual([]);
    expect(childOut).not.toMatch(/^error /m);
  }, 60_000);
});
