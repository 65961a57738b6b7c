/**
 * The SQLite engine's webhook outbox (engine/types.ts Outbox), in the `webhooks`
 * table (schema version 4). Messages are inserted inside the task commit's
 * transaction (commit.ts), so a change and its messages are stored together or not at
 * all, and survive a crash. Only the oldest pending message of an endpoint and task
 * is claimable, which keeps one task's messages in the order of its changes. Settled
 * messages are kept for the operator (delivered 24 h, failed 7 days), then deleted in
 * small batches as claims go by.
 */
import type Database from 'better-sqlite3';
import type { OutboxMessage, StoredWebhook, WebhookOutcome, WebhookStatus } from '../types.js';
import { toCount, toMs } from './statements.js';

const DAY = 24 * 3600_000;
const KEEP_MS: Record<Exclude<WebhookStatus, 'pending'>, number> = { delivered: DAY, failed: 7 * DAY };
const PRUNE_BATCH = 100;

interface Row {
  seq: number;
  id: string;
  endpoint: string;
  task: string;
  type: string;
  body: string;
  created_at: number;
  status: WebhookStatus;
  next_at: number;
  lease_owner: string | null;
  attempts: string;
}

const COLUMNS = 'seq, id, endpoint, task, type, body, created_at, status, next_at, lease_owner, attempts';

const fromRow = (r: Row): StoredWebhook => ({
  id: r.id,
  endpoint: r.endpoint,
  taskId: r.task,
  type: r.type,
  body: r.body,
  createdAt: r.created_at,
  status: r.status,
  attempts: JSON.parse(r.attempts) as StoredWebhook['attempts'],
  nextAt: r.next_at,
});

export class SqliteOutbox {
  readonly #insert;
  readonly #due;
  readonly #lease;
  readonly #get;
  readonly #settle;
  readonly #list;
  readonly #listAfter;
  readonly #requeue;
  readonly #counts;
  readonly #oldest;
  readonly #prune;
  readonly #tx;

  constructor(db: Database.Database) {
    this.#insert = db.prepare<[string, string, string, string, string, number, number]>(
      `insert into webhooks (id, endpoint, task, type, body, created_at, status, next_at)
       values (?, ?, ?, ?, ?, ?, 'pending', ?)`,
    );
    // The head of each endpoint's and task's queue, when due and not leased.
    this.#due = db.prepare<[{ now: number; limit: number }], Row>(
      `select ${COLUMNS} from webhooks w
       where w.status = 'pending' and w.next_at <= @now and w.lease_until <= @now
         and w.seq = (select min(h.seq) from webhooks h
                      where h.status = 'pending' and h.endpoint = w.endpoint and h.task = w.task)
       order by w.next_at, w.seq limit @limit`,
    );
    this.#lease = db.prepare<[string, number, number]>(
      'update webhooks set lease_owner = ?, lease_until = ? where seq = ?',
    );
    this.#get = db.prepare<[string], Row>(`select ${COLUMNS} from webhooks where id = ?`);
    this.#settle = db.prepare<[{ id: string; owner: string; status: WebhookStatus; nextAt: number; attempts: string }]>(
      `update webhooks set status = @status, next_at = @nextAt, attempts = @attempts, lease_owner = null, lease_until = 0
       where id = @id and status = 'pending' and lease_owner = @owner`,
    );
    this.#list = db.prepare<[WebhookStatus, number], Row>(
      `select ${COLUMNS} from webhooks where status = ? order by seq desc limit ?`,
    );
    this.#listAfter = db.prepare<[WebhookStatus, string, number], Row>(
      `select ${COLUMNS} from webhooks where status = ? and seq < (select seq from webhooks where id = ?)
       order by seq desc limit ?`,
    );
    // A retried message is a new turn of its queue: it goes after what is pending now.
    this.#requeue = db.prepare<[number, string]>(
      `update webhooks set status = 'pending', next_at = ?, lease_owner = null, lease_until = 0,
         seq = (select max(seq) + 1 from webhooks)
       where id = ? and status = 'failed'`,
    );
    this.#counts = db.prepare<[], { status: WebhookStatus; n: number }>(
      'select status, count(*) as n from webhooks group by status',
    );
    this.#oldest = db
      .prepare<[], number | null>("select min(created_at) from webhooks where status = 'pending'")
      .pluck();
    this.#prune = db.prepare<[WebhookStatus, number, number]>(
      `delete from webhooks where seq in
         (select seq from webhooks where status = ? and next_at < ? order by next_at limit ?)`,
    );
    const tx = db.transaction((fn: () => unknown) => fn());
    this.#tx = <T>(fn: () => T): T => tx.immediate(fn) as T;
  }

  /** Inside the caller's transaction (the task commit). */
  add(messages: readonly OutboxMessage[]): void {
    for (const m of messages) {
      const at = toMs(m.createdAt);
      this.#insert.run(m.id, m.endpoint, m.taskId, m.type, m.body, at, at);
    }
  }

  claim(now: number, limit: number, leaseMs: number, owner: string): StoredWebhook[] {
    return this.#tx(() => {
      for (const status of ['delivered', 'failed'] as const)
        this.#prune.run(status, toMs(now - KEEP_MS[status]), PRUNE_BATCH);
      const rows = this.#due.all({ now: toMs(now), limit: Math.max(1, toCount(limit)) });
      for (const r of rows) this.#lease.run(owner, toMs(now + leaseMs), r.seq);
      return rows.map(fromRow);
    });
  }

  settle(id: string, owner: string, outcome: WebhookOutcome): boolean {
    return this.#tx(() => {
      const row = this.#get.get(id);
      if (!row || row.status !== 'pending' || row.lease_owner !== owner) return false;
      const attempts = [...(JSON.parse(row.attempts) as StoredWebhook['attempts']), outcome.attempt];
      const status: WebhookStatus = outcome.kind === 'retry' ? 'pending' : outcome.kind;
      const nextAt = outcome.kind === 'retry' ? outcome.nextAt : outcome.attempt.at;
      const params = { id, owner, status, nextAt: toMs(nextAt), attempts: JSON.stringify(attempts) };
      return this.#settle.run(params).changes === 1;
    });
  }

  list(status: WebhookStatus, limit: number, after?: string): StoredWebhook[] {
    const n = Math.max(1, toCount(limit));
    const rows = after === undefined ? this.#list.all(status, n) : this.#listAfter.all(status, after, n);
    return rows.map(fromRow);
  }

  get(id: string): StoredWebhook | null {
    const row = this.#get.get(id);
    return row ? fromRow(row) : null;
  }

  retry(id: string, now: number): StoredWebhook | null {
    return this.#tx(() => {
      this.#requeue.run(toMs(now), id);
      return this.get(id);
    });
  }

  counts(): { pending: number; failed: number; delivered: number; oldestPendingAt: number | null } {
    const out = { pending: 0, failed: 0, delivered: 0, oldestPendingAt: this.#oldest.get() ?? null };
    for (const { status, n } of this.#counts.all()) out[status] = n;
    return out;
  }
}
