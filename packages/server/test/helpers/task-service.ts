/** What the task service's tests share: a memory engine on a fake clock, services on it, and readers of its channels. */
import { expect } from 'vitest';
import { pino } from 'pino';
import { TaskwireError, isSnapshotEvent, type Task, type TaskEventData } from '@taskwire/protocol';
import { createMemoryEngine, type MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Engine, StoredEvent } from '../../src/engine/types.js';
import { createTaskService } from '../../src/tasks/service.js';
import type { TaskService } from '../../src/tasks/types.js';

export const logger = pino({ level: 'silent' });
export const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

export interface Setup {
  engine: MemoryEngine;
  clock: { now: number };
  service: (opts?: { newId?: () => string }) => TaskService;
}

const engines: MemoryEngine[] = [];
const services: TaskService[] = [];

/** Stop every service and close every engine setup() made (each test file calls it in afterEach). */
export async function cleanup(): Promise<void> {
  for (const s of services.splice(0)) await s.stop();
  for (const e of engines.splice(0)) await e.close();
}

export function setup(): Setup {
  const clock = { now: T0 };
  const engine = createMemoryEngine({}, { now: () => clock.now });
  engines.push(engine);
  return {
    engine,
    clock,
    service: (opts = {}) => {
      const s = createTaskService(engine, { logger, now: () => clock.now, ...opts });
      services.push(s);
      return s;
    },
  };
}

export async function events(engine: MemoryEngine, channel: string): Promise<StoredEvent[]> {
  return (await engine.history(channel, { limit: 1000 })).events;
}

export async function kinds(engine: MemoryEngine, channel: string): Promise<Array<[string, number | null]>> {
  return (await events(engine, channel)).map((e) => {
    const data = e.data as TaskEventData;
    return [data.kind, isSnapshotEvent(data) ? data.task.version : null];
  });
}

/** The same engine without its synchronous store: every change takes the asynchronous path (as on Redis). */
export function asyncOnly(engine: Engine): Engine {
  return new Proxy(engine, {
    get: (target, prop, receiver): unknown =>
      prop === 'sync' ? undefined : (Reflect.get(target, prop, receiver) as unknown),
  });
}

export async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TaskwireError);
  expect((err as TaskwireError).code).toBe(code);
}

export async function running(s: TaskService, id = 'job', stallTimeoutMs = 1000): Promise<Task> {
  await s.create({ id, owner: 'alice', stallTimeoutMs });
  return s.update(id, { status: 'running' });
}
