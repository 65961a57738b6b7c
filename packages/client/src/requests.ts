/**
 * Request/reply matching by `id` (docs/protocol.md §2: every request but `auth` carries a
 * client-chosen integer id, echoed in its reply), each with a timeout. Ids keep
 * increasing across reconnects, so a late reply from an old socket never matches
 * a new request.
 *
 * Replies are delivered to a callback synchronously, not through a promise: a
 * subscribe reply and the events right behind it may be dispatched in the same
 * task, and the subscription must be `subscribed` before the first event arrives.
 */
import type { ClientFrame, ErrorBody } from '@taskwire/protocol';
import { TaskwireClientError } from './errors.js';

/** A request frame as the caller writes it: its `id` is added when it is sent. */
export type OutFrame = ClientFrame extends infer F ? (F extends { id: number } ? Omit<F, 'id'> : never) : never;

export type Outcome<T> = { ok: true; result: T } | { ok: false; error: TaskwireClientError };
export type Settle<T> = (outcome: Outcome<T>) => void;

interface Pending {
  settle: Settle<unknown>;
  timer: ReturnType<typeof setTimeout>;
}

export class Requests {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: () => void,
  ) {}

  /** Reserve an id whose reply goes to `settle`. */
  start<T>(settle: Settle<T>): number {
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      settle({ ok: false, error: new TaskwireClientError('timeout', `no reply within ${this.timeoutMs} ms`) });
      // A server that does not answer is as good as gone: let the connection decide.
      this.onTimeout();
    }, this.timeoutMs);
    this.#pending.set(id, { settle: settle as Settle<unknown>, timer });
    return id;
  }

  /** Settle the request a reply frame answers. Unknown ids (late or foreign replies) are ignored. */
  settle(id: number, outcome: { result: unknown } | { error: ErrorBody }): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in outcome) {
      p.settle({ ok: false, error: new TaskwireClientError(outcome.error.code, outcome.error.message) });
    } else p.settle({ ok: true, result: outcome.result });
  }

  /** Fail every pending request (the transport is gone). */
  failAll(reason: string): void {
    const all = Array.from(this.#pending.values());
    this.#pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.settle({ ok: false, error: new TaskwireClientError('disconnected', reason) });
    }
  }

  get size(): number {
    return this.#pending.size;
  }
}
