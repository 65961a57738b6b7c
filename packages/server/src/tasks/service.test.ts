import { afterEach, describe, expect, it } from 'vitest';
import { TaskwireError } from '@taskwire/protocol';
import { createTaskService } from './service.js';
import {
  T0,
  asyncOnly,
  cleanup,
  events,
  kinds,
  logger,
  rejectsWith,
  running,
  setup,
} from '../../test/helpers/task-service.js';

afterEach(cleanup);

describe('task service: create', () => {
  it('creates a queued task and publishes task.created on task: and user:', async () => {
    const { engine, service } = setup();
    const { task, created } = await service().create({ id: 'build-42', owner: 'alice', title: 'Roadmap' });
    expect(created).toBe(true);
    expect(task).toMatchObject({ id: 'build-42', owner: 'alice', title: 'Roadmap', status: 'queued', version: 1 });
    expect(task.createdAt).toBe(new Date(T0).toISOString());
    expect(await kinds(engine, 'task:build-42')).toEqual([['task.created', 1]]);
    expect(await kinds(engine, 'user:alice')).toEqual([['task.created', 1]]);
    expect((await events(engine, 'task:build-42'))[0]?.data).toEqual({ kind: 'task.created', task });
  });

  it('generates t_ + 16 base62 characters when no id is given', async () => {
    const { task } = await setup().service().create({ owner: 'alice' });
    expect(task.id).toMatch(/^t_[A-Za-z0-9]{16}$/);
  });

  it('answers conflict for an existing id and bad_request for invalid fields', async () => {
    const s = setup().service();
    await s.create({ id: 'a', owner: 'alice' });
    await rejectsWith(s.create({ id: 'a', owner: 'bob' }), 'conflict');
    await rejectsWith(s.create({ id: 'bad id', owner: 'alice' }), 'bad_request');
    await rejectsWith(s.create({ owner: 'alice', title: 'x'.repeat(201) }), 'bad_request');
    await rejectsWith(s.create({ owner: 'alice' }, ''), 'bad_request');
  });

  it('returns the current snapshot with created:false for a repeated Idempotency-Key, with no new event', async () => {
    const { engine, service } = setup();
    const s = service();
    const first = await s.create({ owner: 'alice', title: 'once' }, 'key-1');
    await s.update(first.task.id, { progress: 10 });
    const again = await s.create({ owner: 'alice', title: 'once' }, 'key-1');
    expect(again.created).toBe(false);
    expect(again.task).toMatchObject({ id: first.task.id, version: 2, progress: 10 });
    expect(await kinds(engine, `task:${first.task.id}`)).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
    ]);
    const other = await s.create({ owner: 'alice' }, 'key-2');
    expect(other.created).toBe(true);
    expect(other.task.id).not.toBe(first.task.id);
  });

  it('creates once under concurrent repeats of one Idempotency-Key, even across services', async () => {
    const { engine, service } = setup();
    const a = service();
    const b = service();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).create({ owner: 'alice' }, 'same-key')),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const ids = new Set(results.map((r) => r.task.id));
    expect(ids.size).toBe(1);
    expect(await kinds(engine, 'user:alice')).toEqual([['task.created', 1]]);
  });

  it('retries with a new id when a generated id collides', async () => {
    const ids = ['t_same', 't_same', 't_other'];
    const s = setup().service({ newId: () => ids.shift() ?? 't_last' });
    expect((await s.create({ owner: 'alice' })).task.id).toBe('t_same');
    expect((await s.create({ owner: 'alice' })).task.id).toBe('t_other');
  });
});

describe('task service: changes', () => {
  it('updates with version +1 and publishes task.updated on both channels', async () => {
    const { engine, clock, service } = setup();
    const s = service();
    await s.create({ id: 'job', owner: 'alice' });
    clock.now += 5000;
    const t = await s.update('job', { progress: 42.5, stage: 'outline', meta: { a: 1 } });
    expect(t).toMatchObject({ status: 'running', progress: 42.5, stage: 'outline', version: 2, meta: { a: 1 } });
    expect(t.startedAt).toBe(new Date(clock.now).toISOString());
    expect(await s.get('job')).toEqual(t);
    expect(await kinds(engine, 'task:job')).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
    ]);
    expect((await events(engine, 'user:alice')).at(-1)?.data).toEqual({ kind: 'task.updated', task: t });
    const done = await s.update('job', { status: 'succeeded', result: { ok: true } });
    expect(done).toMatchObject({ status: 'succeeded', progress: 100, version: 3, result: { ok: true } });
    expect(done.finishedAt).not.toBeNull();
  });

  it('appends log lines as task.log on task: only, without a new version', async () => {
    const { engine, service } = setup();
    const s = service();
    const t = await running(s);
    const after = await s.appendLogs('job', ['line 1', 'line 2']);
    expect(after).toEqual(t);
    const last = (await events(engine, 'task:job')).at(-1);
    expect(last?.data).toEqual({ kind: 'task.log', taskId: 'job', lines: ['line 1', 'line 2'] });
    expect(await kinds(engine, 'user:alice')).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
    ]);
  });

  it('refuses empty, too many or too long log lines with bad_request', async () => {
    const s = setup().service();
    await running(s);
    await rejectsWith(s.appendLogs('job', []), 'bad_request');
    await rejectsWith(
      s.appendLogs(
        'job',
        Array.from({ length: 101 }, () => 'x'),
      ),
      'bad_request',
    );
    await rejectsWith(s.appendLogs('job', ['é'.repeat(2049)]), 'bad_request');
    expect((await s.appendLogs('job', ['x'.repeat(4096)])).version).toBe(2);
  });

  it('asks for approval and applies approve (running) and reject (failed)', async () => {
    const { engine, service } = setup();
    const s = service();
    await running(s, 'a');
    const asked = await s.requestApproval('a', 'Ship it?', ['yes', 'no']);
    expect(asked).toMatchObject({ status: 'awaiting_approval', version: 3 });
    expect(asked.approval).toMatchObject({ prompt: 'Ship it?', options: ['yes', 'no'], decision: null });
    await rejectsWith(s.requestApproval('a', 'again?'), 'conflict');
    const approved = await s.decide('a', 'approve', 'looks good', 'alice');
    expect(approved).toMatchObject({ status: 'running', version: 4 });
    expect(approved.approval).toMatchObject({ decision: 'approve', comment: 'looks good', decidedBy: 'alice' });
    await rejectsWith(s.decide('a', 'approve', null, 'alice'), 'conflict');

    await running(s, 'b');
    await s.requestApproval('b', 'Delete prod?');
    const rejected = await s.decide('b', 'reject', undefined, 'bob');
    expect(rejected).toMatchObject({ status: 'failed', error: { code: 'rejected' } });
    expect(rejected.approval?.decision).toBe('reject');
    expect(await kinds(engine, 'task:b')).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
      ['task.updated', 3],
      ['task.updated', 4],
    ]);
  });

  it('cancels, and then every change is a conflict', async () => {
    const s = setup().service();
    await s.create({ id: 'job', owner: 'alice' });
    const cancelled = await s.cancel('job');
    expect(cancelled).toMatchObject({ status: 'cancelled', version: 2 });
    expect(cancelled.finishedAt).not.toBeNull();
    await rejectsWith(s.update('job', { progress: 1 }), 'conflict');
    await rejectsWith(s.update('job', { status: 'running' }), 'conflict');
    await rejectsWith(s.cancel('job'), 'conflict');
    await rejectsWith(s.requestApproval('job', 'p'), 'conflict');
    await rejectsWith(s.decide('job', 'approve', null, 'alice'), 'conflict');
    expect((await s.get('job'))?.version).toBe(2);
  });

  it('answers not_found for a missing task and never creates one (failure mode 13)', async () => {
    const { engine, service } = setup();
    const s = service();
    expect(await s.get('ghost')).toBeNull();
    await rejectsWith(s.update('ghost', { progress: 5 }), 'not_found');
    await rejectsWith(s.update('ghost', {}), 'not_found');
    await rejectsWith(s.appendLogs('ghost', ['x']), 'not_found');
    await rejectsWith(s.requestApproval('ghost', 'p'), 'not_found');
    await rejectsWith(s.decide('ghost', 'approve', null, 'alice'), 'not_found');
    await rejectsWith(s.cancel('ghost'), 'not_found');
    expect(await s.get('ghost')).toBeNull();
    expect((await engine.history('task:ghost', { limit: 10 })).offset).toBe(0);
  });

  it('lists newest first with a cursor and filters', async () => {
    const { clock, service } = setup();
    const s = service();
    for (const id of ['a', 'b', 'c']) {
      clock.now += 1000;
      await s.create({ id, owner: 'alice' });
    }
    await s.create({ id: 'z', owner: 'bob' });
    await s.cancel('b');
    const first = await s.list({ owner: 'alice', limit: 2 });
    expect(first.tasks.map((t) => t.id)).toEqual(['c', 'b']);
    const second = await s.list({ owner: 'alice', limit: 2, cursor: first.nextCursor as string });
    expect(second).toMatchObject({ tasks: [{ id: 'a' }], nextCursor: null });
    expect((await s.list({ status: 'cancelled', limit: 10 })).tasks.map((t) => t.id)).toEqual(['b']);
    await rejectsWith(s.list({ limit: 2, cursor: 'not a cursor' }), 'bad_request');
  });

  it('turns engine failures into unavailable, keeping the cause', async () => {
    const { engine } = setup();
    const cause = new Error('connection reset');
    // A real engine whose storage fails on reads, asynchronously and (its synchronous store) by throwing:
    // the service must report, not swallow.
    const failing = new Proxy(engine, {
      get: (target, prop, receiver): unknown => {
        if (prop === 'getTask') return () => Promise.reject(cause);
        if (prop === 'sync')
          return {
            ...target.sync,
            getTask: (): never => {
              throw cause;
            },
          };
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    for (const e of [failing, asyncOnly(failing)]) {
      const s = createTaskService(e, { logger });
      const err = await s.update('job', { progress: 1 }).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(TaskwireError);
      expect(err).toMatchObject({ code: 'unavailable', cause });
    }
    const s = createTaskService(engine, { logger });
    await engine.close();
    await rejectsWith(s.get('job'), 'unavailable');
    await rejectsWith(s.update('job', { progress: 1 }), 'unavailable');
  });
});

describe('task service: updateNow', () => {
  it('applies an update in the same turn on a synchronous engine, with the events update() publishes', async () => {
    const { engine, service } = setup();
    const s = service();
    await s.create({ id: 'job', owner: 'alice' });
    const t = s.updateNow?.('job', { progress: 10 });
    expect(t).toMatchObject({ progress: 10, version: 2 });
    expect(await s.get('job')).toEqual(t);
    expect(await kinds(engine, 'user:alice')).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
    ]);
    // Errors are thrown as update() rejects with them.
    expect(() => s.updateNow?.('missing', { progress: 1 })).toThrow(TaskwireError);
    await s.update('job', { status: 'succeeded' });
    expect(() => s.updateNow?.('job', { status: 'running' })).toThrow(expect.objectContaining({ code: 'conflict' }));
  });

  it('answers null, changing nothing, on an engine without synchronous storage (then update() applies it)', async () => {
    const { engine, service } = setup();
    await service().create({ id: 'job', owner: 'alice' });
    const s = createTaskService(asyncOnly(engine), { logger });
    expect(s.updateNow?.('job', { progress: 5 })).toBeNull();
    expect(await s.get('job')).toMatchObject({ progress: null, version: 1 });
    expect(await s.update('job', { progress: 5 })).toMatchObject({ progress: 5, version: 2 });
    await s.stop();
  });
});

describe('task service: stall detection', () => {
  it('marks a running task stalled once its timeout passes with no update', async () => {
    const { engine, clock, service } = setup();
    const s = service();
    await running(s, 'job', 1000);
    expect(await s.sweepStalls(T0 + 999)).toBe(0);
    expect(await s.sweepStalls(T0 + 1000)).toBe(1);
    expect(await s.get('job')).toMatchObject({ status: 'stalled', version: 3 });
    expect(await s.sweepStalls(T0 + 5000)).toBe(0);
    expect(await kinds(engine, 'user:alice')).toEqual([
      ['task.created', 1],
      ['task.updated', 2],
      ['task.updated', 3],
    ]);
    clock.now = T0 + 10_000;
    expect(await s.sweepStalls()).toBe(0);
  });

  it('never stalls queued, waiting or stallTimeoutMs 0 tasks', async () => {
    const s = setup().service();
    await s.create({ id: 'queued', owner: 'alice', stallTimeoutMs: 1000 });
    await running(s, 'never', 0);
    await running(s, 'waiting', 1000);
    await s.requestApproval('waiting', 'ok?');
    expect(await s.sweepStalls(T0 + 3_600_000)).toBe(0);
  });

  it('pushes the deadline on every update, empty heartbeat and log line', async () => {
    const { clock, service } = setup();
    const s = service();
    const t = await running(s, 'job', 1000);
    clock.now = T0 + 800;
    expect(await s.update('job', {})).toEqual(t); // heartbeat: no new version
    expect(await s.sweepStalls(T0 + 1500)).toBe(0);
    clock.now = T0 + 1700;
    await s.appendLogs('job', ['still here']);
    expect(await s.sweepStalls(T0 + 2600)).toBe(0);
    expect(await s.sweepStalls(T0 + 2700)).toBe(1);
  });

  it('makes a stalled task running again on an update', async () => {
    const { engine, service } = setup();
    const s = service();
    await running(s, 'job', 1000);
    await s.sweepStalls(T0 + 1000);
    const back = await s.update('job', { progress: 50 });
    expect(back).toMatchObject({ status: 'running', progress: 50, version: 4 });
    expect((await kinds(engine, 'task:job')).at(-1)).toEqual(['task.updated', 4]);
  });

  it('makes a stalled task running again on a log line: task.updated, then task.log, in one commit', async () => {
    const { engine, service } = setup();
    const s = service();
    await running(s, 'job', 1000);
    await s.sweepStalls(T0 + 1000);
    const back = await s.appendLogs('job', ['alive']);
    expect(back).toMatchObject({ status: 'running', version: 4 });
    const tail = (await events(engine, 'task:job')).slice(-2);
    expect(tail.map((e) => e.data)).toEqual([
      { kind: 'task.updated', task: back },
      { kind: 'task.log', taskId: 'job', lines: ['alive'] },
    ]);
    expect(tail[1]?.offset).toBe((tail[0]?.offset ?? 0) + 1);
    expect((await kinds(engine, 'user:alice')).at(-1)).toEqual(['task.updated', 4]);
  });

  it('marks each task exactly once when two services sweep concurrently (failure mode 14)', async () => {
    const { engine, service } = setup();
    const a = service();
    const b = service();
    for (let i = 0; i < 30; i++) await running(a, `job-${i}`, 1000);
    const [na, nb] = await Promise.all([a.sweepStalls(T0 + 1000), b.sweepStalls(T0 + 1000)]);
    expect(na + nb).toBe(30);
    for (let i = 0; i < 30; i++) {
      expect(await a.get(`job-${i}`)).toMatchObject({ status: 'stalled', version: 3 });
      expect(await kinds(engine, `task:job-${i}`)).toEqual([
        ['task.created', 1],
        ['task.updated', 2],
        ['task.updated', 3],
      ]);
    }
  });

  it('sweeps periodically after start() and stops cleanly', async () => {
    const { clock, service } = setup();
    const s = service();
    await running(s, 'job', 1000);
    clock.now = T0 + 1000;
    s.start(5);
    for (let i = 0; i < 400 && (await s.get('job'))?.status !== 'stalled'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await s.stop();
    expect((await s.get('job'))?.status).toBe('stalled');
  });
});
