/**
 * The Outbox of an engine whose outbox is synchronous and in process (memory, SQLite):
 * each call run through the engine's own `run` (its open check and error mapping).
 */
import type { Outbox } from './types.js';

/** The synchronous outbox both in-process engines keep. */
export interface SyncOutbox {
  claim(...args: Parameters<Outbox['claim']>): Awaited<ReturnType<Outbox['claim']>>;
  settle(...args: Parameters<Outbox['settle']>): boolean;
  list(...args: Parameters<Outbox['list']>): Awaited<ReturnType<Outbox['list']>>;
  get(...args: Parameters<Outbox['get']>): Awaited<ReturnType<Outbox['get']>>;
  retry(...args: Parameters<Outbox['retry']>): Awaited<ReturnType<Outbox['retry']>>;
  counts(): Awaited<ReturnType<Outbox['counts']>>;
}

export function outboxPort(run: <T>(fn: (box: SyncOutbox) => T) => Promise<T>): Outbox {
  return {
    claim: (now, limit, leaseMs, owner) => run((box) => box.claim(now, limit, leaseMs, owner)),
    settle: (id, owner, outcome) => run((box) => box.settle(id, owner, outcome)),
    list: (status, limit, after) => run((box) => box.list(status, limit, after)),
    get: (id) => run((box) => box.get(id)),
    retry: (id, now) => run((box) => box.retry(id, now)),
    counts: () => run((box) => box.counts()),
  };
}
