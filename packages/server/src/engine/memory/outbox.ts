/**
 * The memory engine's webhook outbox (engine/types.ts Outbox): every message in this
 * process, lost on restart like everything else here. Pending messages wait in one
 * queue per endpoint and task, so only a queue's head is ever claimable. Settled
 * messages are kept for the operator's list, at most `keepSettled` of them.
 */
import type { OutboxMessage, StoredWebhook, WebhookOutcome, WebhookStatus } from '../types.js';

interface Held extends StoredWebhook {
  leaseOwner: string | null;
  leaseUntil: number;
}

const groupOf = (m: OutboxMessage): string => `${m.endpoint}\n${m.taskId}`;

const view = (m: Held): StoredWebhook => ({
  id: m.id,
  endpoint: m.endpoint,
  taskId: m.taskId,
  type: m.type,
  body: m.body,
  createdAt: m.createdAt,
  status: m.status,
  attempts: [...m.attempts],
  nextAt: m.nextAt,
});

export class MemoryOutbox {
  /** Every message, oldest first (a Map keeps insertion order). */
  readonly #messages = new Map<string, Held>();
  /** Pending message ids per endpoint and task, in the order of their changes. */
  readonly #queues = new Map<string, string[]>();
  readonly #settled: string[] = [];

  constructor(private readonly keepSettled = 10_000) {}

  add(messages: readonly OutboxMessage[]): void {
    for (const m of messages) {
      this.#messages.set(m.id, {
        ...m,
        status: 'pending',
        attempts: [],
        nextAt: m.createdAt,
        leaseOwner: null,
        leaseUntil: 0,
      });
      const key = groupOf(m);
      const queue = this.#queues.get(key);
      if (queue) queue.push(m.id);
      else this.#queues.set(key, [m.id]);
    }
  }

  claim(now: number, limit: number, leaseMs: number, owner: string): StoredWebhook[] {
    const out: StoredWebhook[] = [];
    for (const queue of this.#queues.values()) {
      if (out.length >= limit) break;
      const head = this.#messages.get(queue[0] as string) as Held;
      if (head.nextAt > now || (head.leaseOwner !== null && head.leaseUntil > now)) continue;
      head.leaseOwner = owner;
      head.leaseUntil = now + leaseMs;
      out.push(view(head));
    }
    return out;
  }

  settle(id: string, owner: string, outcome: WebhookOutcome): boolean {
    const m = this.#messages.get(id);
    if (!m || m.status !== 'pending' || m.leaseOwner !== owner) return false;
    m.attempts.push(outcome.attempt);
    m.leaseOwner = null;
    m.leaseUntil = 0;
    if (outcome.kind === 'retry') {
      m.nextAt = outcome.nextAt;
      return true;
    }
    m.status = outcome.kind;
    this.#dequeue(m);
    this.#settled.push(m.id);
    while (this.#settled.length > this.keepSettled) {
      const old = this.#messages.get(this.#settled.shift() as string);
      if (old && old.status !== 'pending') this.#messages.delete(old.id);
    }
    return true;
  }

  list(status: WebhookStatus, limit: number, after?: string): StoredWebhook[] {
    const all = [...this.#messages.values()].filter((m) => m.status === status).reverse();
    const start = after === undefined ? 0 : all.findIndex((m) => m.id === after) + 1;
    return all.slice(start, start + limit).map(view);
  }

  get(id: string): StoredWebhook | null {
    const m = this.#messages.get(id);
    return m ? view(m) : null;
  }

  retry(id: string, now: number): StoredWebhook | null {
    const m = this.#messages.get(id);
    if (!m) return null;
    if (m.status !== 'failed') return view(m);
    m.status = 'pending';
    m.nextAt = now;
    // Sent again after what its task has pending now: a retried message is a new turn.
    this.#messages.delete(id);
    this.#messages.set(id, m);
    const key = groupOf(m);
    const queue = this.#queues.get(key);
    if (queue) queue.push(id);
    else this.#queues.set(key, [id]);
    return view(m);
  }

  counts(): { pending: number; failed: number; delivered: number; oldestPendingAt: number | null } {
    let pending = 0;
    let failed = 0;
    let delivered = 0;
    let oldestPendingAt: number | null = null;
    for (const m of this.#messages.values()) {
      if (m.status === 'pending') {
        pending += 1;
        if (oldestPendingAt === null || m.createdAt < oldestPendingAt) oldestPendingAt = m.createdAt;
      } else if (m.status === 'failed') failed += 1;
      else delivered += 1;
    }
    return { pending, failed, delivered, oldestPendingAt };
  }

  #dequeue(m: Held): void {
    const key = groupOf(m);
    const queue = this.#queues.get(key);
    if (!queue) return;
    const at = queue.indexOf(m.id);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.#queues.delete(key);
  }
}
