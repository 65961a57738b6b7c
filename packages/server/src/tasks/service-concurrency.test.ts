import { afterEach, describe, expect, it } from 'vitest';
import type { TaskwireError } from '@taskwire/protocol';
import type { CommitRequest, CommitResult } from '../engine/types.js';
import { createTaskService } from './service.js';
import { asyncOnly, cleanup, kinds, logger, setup } from '../../test/helpers/task-service.js';
import type { TaskService } from './types.js';
import type { MemoryEngine } from '../engine/memory/memory-engine.js';

afterEach(cleanup);

describe('task service: concurrency', () => {
  async function checkSequence(engine: MemoryEngine, id: string, updates: number): Promise<void> {
    const versions = (await kinds(engine, `task:${id}`)).map(([, v]) => v);
    expect(versions).toEqual(Array.from({ length: updates + 1 }, (_, i) => i + 1));
  }

  it('loses none of 50 concurrent updates: versions strictly +1', async () => {
    const { engine, service } = setup();
    const s = service();
    await s.create({ id: 'job', owner: 'alice' });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.update('job', { meta: { [`k${i}`]: i } })),
    );
    expect(new Set(results.map((t) => t.version)).size).toBe(50);
    const final = await s.get('job');
    expect(final?.version).toBe(51);
    expect(Object.keys(final?.meta ?? {})).toHaveLength(50);
    await checkSequence(engine, 'job', 50);
  });

  it('retries compare-and-set conflicts between services sharing one engine', async () => {
    const { engine } = setup();
    // Asynchronous storage, as on Redis: the services' reads and commits interleave and race.
    const nodes = Array.from({ length: 5 }, () => createTaskService(asyncOnly(engine), { logger }));
    await nodes[0]?.create({ id: 'job', owner: 'alice' });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (nodes[i % 5] as TaskService).update('job', { meta: { [`k${i}`]: i } })),
    );
    expect(new Set(results.map((t) => t.version)).size).toBe(50);
    expect(Object.keys((await nodes[0]?.get('job'))?.meta ?? {})).toHaveLength(50);
    await checkSequence(engine, 'job', 50);
  });

  it('on synchronous storage, applies each change in one step: services sharing the engine never race', async () => {
    const { engine } = setup();
    const nodes = Array.from({ length: 5 }, () => createTaskService(engine, { logger, maxAttempts: 1 }));
    await nodes[0]?.create({ id: 'job', owner: 'alice' });
    const settled = await Promise.allSettled(nodes.map((n, i) => n.update('job', { meta: { [`k${i}`]: i } })));
    expect(settled.map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    await checkSequence(engine, 'job', 5);
  });

  it('on synchronous storage, a lost compare-and-set (another process wrote) is retried on the asynchronous path', async () => {
    const { engine } = setup();
    const s = createTaskService(engine, { logger });
    await s.create({ id: 'job', owner: 'alice' });
    let lost = 0;
    // The first synchronous commit loses, as if another process had written the task in between.
    const racing = new Proxy(engine, {
      get: (target, prop, receiver): unknown =>
        prop === 'sync'
          ? {
              getTask: (id: string) => target.sync.getTask(id),
              commit: (req: CommitRequest): CommitResult =>
                lost++ === 0 ? { ok: false, reason: 'conflict', current: null } : target.sync.commit(req),
            }
          : (Reflect.get(target, prop, receiver) as unknown),
    });
    const t = createTaskService(racing, { logger });
    expect(await t.update('job', { progress: 10 })).toMatchObject({ progress: 10, version: 2 });
    expect(lost).toBe(1);
    await checkSequence(engine, 'job', 1);
  });

  it('gives up with conflict after maxAttempts lost races', async () => {
    const { engine } = setup();
    const nodes = Array.from({ length: 5 }, () => createTaskService(asyncOnly(engine), { logger, maxAttempts: 1 }));
    await nodes[0]?.create({ id: 'job', owner: 'alice' });
    const settled = await Promise.allSettled(nodes.map((n, i) => n.update('job', { meta: { [`k${i}`]: i } })));
    const lost = settled.filter((r) => r.status === 'rejected');
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of lost) expect((r.reason as TaskwireError).code).toBe('conflict');
    await checkSequence(engine, 'job', 1);
  });
});
