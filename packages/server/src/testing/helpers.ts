/** Shared helpers of the engine conformance suite (see conformance.ts). */
import { randomBytes } from 'node:crypto';
import type { Task } from '@taskwire/protocol';
import type { CommitRequest, Engine, EngineLimits } from '../engine/types.js';

/** A started engine for one test; the suite closes it after the test. */
export type OpenEngine = (limits?: Partial<EngineLimits>) => Promise<Engine>;

export const EPOCH_RE = /^[A-Za-z0-9_-]{1,32}$/;

export const uid = (prefix: string): string => `${prefix}${randomBytes(6).toString('hex')}`;
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `cond()` holds, at most `timeoutMs` (engines with a broker deliver asynchronously). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited >= timeoutMs) throw new Error('condition not met in time');
    await sleep(10);
  }
}

export function makeTask(overrides: Partial<Task> & { id: string }): Task {
  const at = '2026-11-22T10:00:00.000Z';
  return {
    owner: 'alice',
    title: null,
    status: 'queued',
    progress: null,
    stage: null,
    message: null,
    result: null,
    error: null,
    approval: null,
    meta: {},
    stallTimeoutMs: 60_000,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    finishedAt: null,
    version: 1,
    parentId: null,
    batch: null,
    children: null,
    tags: [],
    streams: {},
    ...overrides,
  };
}

export function createReq(task: Task, extra: Partial<CommitRequest> = {}): CommitRequest {
  return { task, expectedVersion: 0, events: [], stallAt: null, ...extra };
}
