/**
 * @taskwire/bullmq against real parts: a redis-server started here, real BullMQ queues
 * and workers, a real taskwire server, and bridges in processes of their own (the built
 * package: `npm run build` first) that the tests SIGKILL and restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type Job } from 'bullmq';
import type { Task } from '@taskwire/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, stopAllRedis, type RedisServer } from '../../engine-redis/test/helpers/redis.js';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { createBackend } from '@taskwire/client/backend';
import { bridgeQueue, taskIdFor } from '../src/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/bridge-process.mjs', import.meta.url));
const LOCK_TTL_MS = 1500;
const OWNERS = ['ann', 'ben', 'cyd', 'dov'];

interface JobData {
  n: number;
  user: string;
  steps: number;
  /** Tries that throw before one succeeds (with `attempts` to match). */
  flaky: number;
  fail: boolean;
  ms: number;
}

let redis: RedisServer;
let server: TestServer;
const children = new Set<ChildProcess>();
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await server?.close();
  await stopAllRedis();
});

interface BridgeProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when a line matching `re` has been printed (bounded). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<void>;
}

function startBridge(queue: string): BridgeProcess {
  const child = spawn(process.execPath, [FIXTURE], {
    env: {
      ...process.env,
      TWB_REDIS_PORT: String(redis.port),
      TWB_QUEUE: queue,
      TWB_URL: server.url,
      TWB_API_KEY: server.apiKey,
      TWB_LOCK_TTL_MS: String(LOCK_TTL_MS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const append = (b: Buffer): void => {
    out = (out + b.toString()).slice(-32 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 20_000) =>
      until(
        () => re.test(out),
        timeoutMs,
        () => `no ${String(re)}: ${out}`,
      ),
  };
}

async function until(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function kill(bridge: BridgeProcess): Promise<void> {
  bridge.child.kill('SIGKILL');
  await bridge.exited;
}

/** Every task of the given owners (all pages). */
async function listTasks(owners: string[]): Promise<Task[]> {
  const all: Task[] = [];
  for (const owner of owners) {
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const q: string = `/tasks?owner=${owner}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await server.api<{ tasks: Task[]; nextCursor: string | null }>('GET', q);
      expect(res.status).toBe(200);
      all.push(...res.body.tasks);
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
  }
  return all;
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** BullMQ's word on each job: completed, failed, or gone (removed). */
async function bullmqFinal(queue: Queue, ids: string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const id of ids) {
    const job = await queue.getJob(id);
    states.set(id, job ? await job.getState() : 'removed');
  }
  return states;
}

const EXPECTED_STATUS: Record<string, string> = { completed: 'succeeded', failed: 'failed', removed: 'cancelled' };

function startWorkers(name: string, concurrency: number): Worker[] {
  const processor = async (job: Job<JobData>): Promise<{ n: number; tries: number }> => {
    const { n, steps, flaky, fail, ms } = job.data;
    for (let i = 1; i <= steps; i++) {
      await job.updateProgress({ pct: (100 * i) / steps, message: `step ${i}` });
      await new Promise((r) => setTimeout(r, ms / steps));
    }
    if (job.attemptsMade < flaky) throw new Error(`flaky ${n} on try ${job.attemptsMade + 1}`);
    if (fail) throw new Error(`job ${n} failed on purpose`);
    return { n, tries: job.attemptsMade + 1 };
  };
  const connection = { host: '127.0.0.1', port: redis.port };
  const workers = [1, 2].map(() => new Worker<JobData>(name, processor, { connection, concurrency }));
  for (const w of workers) closers.push(() => w.close());
  return workers;
}

function jobsFor(from: number, count: number): Array<{ name: string; data: JobData; opts: object }> {
  return Array.from({ length: count }, (_, k) => {
    const n = from + k;
    const flaky = n % 7 === 0 ? 1 : 0;
    const data: JobData = {
      n,
      user: OWNERS[n % OWNERS.length]!,
      steps: 2,
      flaky,
      fail: n % 10 === 3,
      ms: 10 + (n % 5) * 5,
    };
    const backoff = n % 14 === 0 ? { backoff: { type: 'fixed', delay: 30 } } : {};
    // Every 50th waits a minute, to be removed while it waits.
    const delay = n % 50 === 25 ? { delay: 60_000 } : {};
    return { name: 'report', data, opts: { attempts: flaky + 1, ...backoff, ...delay } };
  });
}

describe('bridgeQueue with real BullMQ workers, bridges in their own processes', () => {
  it('1,000 jobs through 2 bridges, the leader SIGKILLed mid-run and restarted: 1,000 tasks, none twice, statuses as BullMQ says', async () => {
    const started = Date.now();
    const name = 'reports';
    const queue = new Queue<JobData>(name, {
      connection: { host: '127.0.0.1', port: redis.port },
      streams: { events: { maxLen: 100_000 } },
    });
    closers.push(() => queue.close());
    const bridges = [startBridge(name), startBridge(name)];
    await Promise.all(bridges.map((b) => b.waitFor(/^ready$/m)));
    const leader = bridges.find((b) => /role leader/.test(b.output()));
    const standby = bridges.find((b) => b !== leader);
    expect(leader, bridges.map((b) => b.output()).join('\n')).toBeDefined();
    expect(standby!.output()).toMatch(/role standby/);

    startWorkers(name, 20);
    const first = await queue.addBulk(jobsFor(1, 500));
    // Mid-run: the leader has created tasks and finished some, and jobs are still running.
    let finalAtKill = 0;
    await until(
      async () => (finalAtKill = (await listTasks(OWNERS)).filter((t) => FINAL.has(t.status)).length) >= 150,
      30_000,
      () => leader!.output(),
    );
    await kill(leader!);
    expect(finalAtKill).toBeLessThan(490); // mid-run: most of the first 500 still to finish
    const restarted = startBridge(name);
    await restarted.waitFor(/^ready$/m);
    const second = await queue.addBulk(jobsFor(501, 500));
    const ids = [...first, ...second].map((j) => j.id!);
    expect(new Set(ids).size).toBe(1000);

    // The delayed ones are removed once their tasks exist (a job gone before any bridge saw
    // it has no owner to read: it gets no task, see the README).
    const removed = ids.filter((_, k) => (k + 1) % 50 === 25);
    await until(
      async () => {
        const have = new Set((await listTasks(OWNERS)).map((t) => t.id));
        return removed.every((id) => have.has(taskIdFor(name, id)));
      },
      30_000,
      () => 'the delayed jobs have no tasks',
    );
    for (const id of removed) await queue.remove(id);
    await until(
      async () => {
        const c = await queue.getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) === 1000 - removed.length;
      },
      40_000,
      () => 'BullMQ jobs not all finished',
    );
    let tasks: Task[] = [];
    await until(
      async () => {
        tasks = await listTasks(OWNERS);
        return tasks.length >= 1000 && tasks.every((t) => FINAL.has(t.status));
      },
      40_000,
      () => {
        const have = new Set(tasks.map((t) => t.id));
        const missing = ids.filter((id) => !have.has(taskIdFor(name, id)));
        const open = tasks.filter((t) => !FINAL.has(t.status)).map((t) => `${t.id}:${t.status}`);
        return `${tasks.length} tasks; missing ${missing.join(',')}; not final ${open.join(',')}; outputs: ${[standby!, restarted].map((b) => b.output()).join(' | ')}`;
      },
    );

    // One task per job, none twice, each ending as BullMQ says.
    expect(tasks).toHaveLength(1000);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    expect(byId.size).toBe(1000);
    expect([...byId.keys()].sort()).toEqual(ids.map((id) => taskIdFor(name, id)).sort());
    const states = await bullmqFinal(queue, ids);
    const counts: Record<string, number> = {};
    for (const id of ids) {
      const state = states.get(id)!;
      counts[state] = (counts[state] ?? 0) + 1;
      const task = byId.get(taskIdFor(name, id))!;
      expect(task.status, `job ${id} is ${state}`).toBe(EXPECTED_STATUS[state]);
      const job = await queue.getJob(id);
      if (state === 'completed') expect(task.result).toEqual(job!.returnvalue);
      if (state === 'failed') expect(task.error?.message).toBe(job!.failedReason);
      if (state === 'removed') expect(task.message).toBe('removed');
      if (job) expect(task.title).toBe(`report ${job.data.n}`);
    }
    expect(counts).toEqual({ completed: 880, failed: 100, removed: 20 });
    expect(standby!.output() + restarted.output()).toMatch(/role leader/); // someone took over
    // Each task was created once: one task.created on its channel, at version 1.
    for (const id of ids.slice(0, 1000)) {
      const h = await server.api<{ events: Array<{ data: { kind: string; task?: Task } }> }>(
        'GET',
        `/channels/task:${taskIdFor(name, id)}/history?limit=100`,
      );
      const created = h.body.events.filter((e) => e.data.kind === 'task.created');
      expect(created.map((e) => e.data.task?.version)).toEqual([1]);
    }
    const errors = [standby!, restarted].map((b) => b.output()).join('\n');
    expect(errors).not.toMatch(/^error /m);
    expect(Date.now() - started).toBeLessThan(90_000);
  }, 120_000);

  it('a lone bridge SIGKILLed, the queue going on without it, then restarted: it reads on from its checkpoint', async () => {
    const name = 'solo';
    const queue = new Queue<JobData>(name, { connection: { host: '127.0.0.1', port: redis.port } });
    closers.push(() => queue.close());
    const owners = ['eve'];
    const one = startBridge(name);
    await one.waitFor(/^role leader$/m);
    startWorkers(name, 5);
    const data = (n: number): JobData => ({ n, user: 'eve', steps: 2, flaky: 0, fail: n % 4 === 0, ms: 10 });
    const early = await queue.addBulk(Array.from({ length: 10 }, (_, k) => ({ name: 'solo', data: data(k + 1) })));
    const earlyIds = early.map((j) => taskIdFor(name, j.id!));
    await until(
      async () => {
        const tasks = await listTasks(owners);
        return earlyIds.every((id) => tasks.some((t) => t.id === id && FINAL.has(t.status)));
      },
      20_000,
      () => one.output(),
    );
    await until(
      async () => (await queue.getBackend().client).get(queue.toKey('taskwire:checkpoint')).then((cp) => cp !== '0-0'),
      5_000,
      () => 'no checkpoint stored',
    );
    await kill(one);

    // While no bridge runs: 20 more jobs, added, run and finished.
    const late = await queue.addBulk(Array.from({ length: 20 }, (_, k) => ({ name: 'solo', data: data(k + 11) })));
    await until(
      async () => {
        const c = await queue.getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) === 30;
      },
      20_000,
      () => 'jobs not finished',
    );
    expect((await listTasks(owners)).length).toBe(10);

    const again = startBridge(name);
    await again.waitFor(/^role leader$/m, 10_000); // once the dead one's lock ran out
    let tasks: Task[] = [];
    await until(
      async () => (tasks = await listTasks(owners)).length === 30 && tasks.every((t) => FINAL.has(t.status)),
      20_000,
      () => `${tasks.length} tasks; ${again.output()}`,
    );
    const ids = [...early, ...late].map((j) => j.id!);
    const states = await bullmqFinal(queue, ids);
    for (const id of ids) {
      const task = tasks.find((t) => t.id === taskIdFor(name, id))!;
      expect(task.status).toBe(EXPECTED_STATUS[states.get(id)!]);
    }
    expect(again.output()).not.toMatch(/^error /m);
    again.child.kill('SIGTERM');
    await again.exited;
    expect(again.child.exitCode).toBe(0);
  }, 60_000);

  it('a job whose worker dies mid-run stalls and finishes on another worker: its task says so, then succeeds', async () => {
    const name = 'stalls';
    const connection = { host: '127.0.0.1', port: redis.port };
    const queue = new Queue<JobData>(name, { connection });
    closers.push(() => queue.close());
    const errors: unknown[] = [];
    const bridge = bridgeQueue(queue, {
      backend: createBackend({ url: server.url, apiKey: server.apiKey }),
      owner: (job: Job<JobData>) => job.data.user,
      lockTtlMs: 1000,
      onError: (err) => errors.push(err),
    });
    closers.push(() => bridge.close());
    await bridge.ready;
    expect(bridge.role).toBe('leader');

    // This worker takes the job, reports 30 % and hangs; closed by force, it stops renewing the job's lock.
    const dying = new Worker<JobData>(
      name,
      async (job) => {
        await job.updateProgress(30);
        await new Promise(() => undefined);
      },
      { connection, lockDuration: 1000, stalledInterval: 300 },
    );
    const job = await queue.add('stall', { n: 1, user: 'fay', steps: 1, flaky: 0, fail: false, ms: 0 });
    const id = taskIdFor(name, job.id!);
    await until(
      async () => (await server.api<Task>('GET', `/tasks/${id}`)).body.progress === 30,
      10_000,
      () => 'no progress',
    );
    await dying.close(true);
    const rescuer = new Worker<JobData>(name, () => Promise.resolve('rescued'), {
      connection,
      lockDuration: 1000,
      stalledInterval: 300,
    });
    closers.push(() => rescuer.close());
    await until(
      async () => (await server.api<Task>('GET', `/tasks/${id}`)).body.status === 'succeeded',
      15_000,
      () => 'not succeeded',
    );
    const h = await server.api<{ events: Array<{ data: { task?: Task } }> }>('GET', `/channels/task:${id}/history`);
    const snaps = h.body.events.flatMap((e) => (e.data.task ? [e.data.task] : []));
    const stalled = snaps.find((t) => t.message?.startsWith('stalled'));
    expect(stalled?.status).toBe('running');
    expect(snaps.at(-1)).toMatchObject({ status: 'succeeded', result: 'rescued', progress: 100 });
    expect(await job.getState()).toBe('completed');
    expect(errors).toEqual([]);
    await bridge.close();
    expect(bridge.role).toBe('closed');
  }, 40_000);
});
