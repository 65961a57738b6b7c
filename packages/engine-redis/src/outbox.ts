/**
 * The webhook outbox on Redis (engine/types.ts Outbox), single or Cluster. A task's
 * messages live in the task's slot, written by commit.lua with the change that caused
 * them (all or none); the indexes that find them live in the `{idx}` slot, and Cluster
 * cannot write both in one step. So, as for batch parents and the list indexes:
 *
 * - Before a commit with messages the engine raises the task's intent counter (task
 *   slot, expires) and then marks the task (`{idx}`: a sorted set by due time, a new
 *   touch number, each message's id → task and its pending entry). commit.lua lowers
 *   the counter and stores the messages (hash + queue) or, on a conflict, nothing.
 * - claim() walks the due marks. For each task, outbox.lua leases the due head of each
 *   endpoint's queue (so one task's messages go out in order per endpoint) and says
 *   when to look again; the mark is then moved there, or removed when the queue is
 *   empty, unless the task was touched since the mark was read (a commit came) or a
 *   commit is under way (the intent counter lives): a mark is never removed while a
 *   message it stands for may still land.
 * - settle() and retry() change the message in its slot, then its index entries.
 *
 * The indexes are derived: list() and counts() check them against the messages and
 * repair what a crash between two steps left behind. Docs: docs/engines.md, Webhooks.
 */
import type {
  Outbox,
  OutboxMessage,
  StoredWebhook,
  WebhookAttempt,
  WebhookOutcome,
  WebhookStatus,
} from '@taskwire/server/engine';
import type { Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';

const DAY = 24 * 3600_000;
/** How long settled messages are kept (as the SQLite engine). */
const KEEP_MS = { delivered: DAY, failed: 7 * DAY } as const;
/** A commit announced by its intent counter is waited for this long at most. */
const INTENT_TTL_MS = 30_000;
/** Task marks one claim looks at. */
const MARKS_PER_CLAIM = 100;
/** Settled index entries dropped per claim. */
const PRUNE_BATCH = 100;
/** List: entries read per round trip, and round trips. */
const LIST_BATCH = 100;
const LIST_ROUNDS = 10;
/** An index entry without its message is dropped only this long after it was made (its commit may be under way). */
const GHOST_GRACE_MS = 60_000;

interface State {
  status: WebhookStatus;
  nextAt: number;
  owner: string;
  until: number;
  endpoint: string;
}

/** The pending set's score: creation time (or retry time), then the message's place in its commit. */
const orderOf = (at: number, index: number): number => Math.floor(at) * 1000 + (index % 1000);

function toStored(m: string, st: string, at: string): StoredWebhook {
  const msg = JSON.parse(m) as OutboxMessage;
  const state = JSON.parse(st) as State;
  const attempts = JSON.parse(at) as WebhookAttempt[];
  return {
    id: msg.id,
    endpoint: msg.endpoint,
    taskId: msg.taskId,
    type: msg.type,
    body: msg.body,
    createdAt: msg.createdAt,
    status: state.status,
    attempts,
    nextAt: state.nextAt,
  };
}

function triples(flat: readonly string[]): StoredWebhook[] {
  const out: StoredWebhook[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) out.push(toStored(flat[i]!, flat[i + 1]!, flat[i + 2]!));
  return out;
}

export class RedisOutbox implements Outbox {
  constructor(
    private readonly client: () => Client,
    private readonly keys: Keys,
    private readonly guard: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  /** The keys commit.lua takes after its own four (KEYS[5..7]). */
  commitKeys(taskId: string): string[] {
    const k = this.keys.outbox(taskId);
    return [k.hash, k.queue, k.intent];
  }

  /** The arguments commit.lua takes for `messages` (ARGV[14..]). */
  commitArgs(messages: readonly OutboxMessage[]): Array<string | number> {
    const out: Array<string | number> = [messages.length];
    for (const m of messages) {
      const state: State = { status: 'pending', nextAt: m.createdAt, owner: '', until: 0, endpoint: m.endpoint };
      const msg: OutboxMessage = {
        id: m.id,
        endpoint: m.endpoint,
        taskId: m.taskId,
        type: m.type,
        body: m.body,
        createdAt: m.createdAt,
      };
      out.push(m.id, JSON.stringify(msg), JSON.stringify(state));
    }
    return out;
  }

  /** Before a commit with messages (inside the engine's guard): the intent, then the mark. */
  async beforeCommit(taskId: string, messages: readonly OutboxMessage[]): Promise<void> {
    await this.announce(taskId);
    const pairs = messages.flatMap((m, i) => [m.id, orderOf(m.createdAt, i)]);
    const due = Math.min(...messages.map((m) => m.createdAt));
    await this.index(['mark', taskId, due, ...pairs]);
  }

  /** The commit did not happen: its messages leave the indexes (best effort; list() repairs the rest). */
  async afterConflict(messages: readonly OutboxMessage[]): Promise<void> {
    await this.index(['unmark', ...messages.map((m) => m.id)]).catch(() => undefined);
  }

  claim(now: number, limit: number, leaseMs: number, owner: string): Promise<StoredWebhook[]> {
    return this.guard(async () => {
      await this.index(['prune', now - KEEP_MS.delivered, now - KEEP_MS.failed, PRUNE_BATCH]);
      const marks = (await this.index(['due', now, MARKS_PER_CLAIM])) as string[];
      const out: StoredWebhook[] = [];
      for (let i = 0; i + 1 < marks.length && out.length < limit; i += 2) {
        const taskId = marks[i]!;
        const reply = (await this.task(taskId, taskId, [
          'claim',
          now,
          Math.ceil(leaseMs),
          owner,
          limit - out.length,
        ])) as [string, number, ...string[]];
        const [next, intent, ...rest] = reply;
        const got = triples(rest);
        out.push(...got);
        // Claimed messages are known to the indexes (a repair, in case list() dropped one too early).
        if (got.length > 0) {
          await this.index(['known', ...got.flatMap((m, j) => [m.id, taskId, orderOf(m.createdAt, j)])]);
        }
        // A commit under way: keep the mark as it is (due), to look again on the next claim.
        if (intent === 1) continue;
        await this.index(['after', taskId, marks[i + 1]!, next]);
      }
      return out;
    });
  }

  settle(id: string, owner: string, outcome: WebhookOutcome): Promise<boolean> {
    return this.guard(async () => {
      const taskId = await this.taskOf(id);
      if (taskId === null) return false;
      const at = Math.floor(outcome.attempt.at);
      const next = outcome.kind === 'retry' ? Math.ceil(outcome.nextAt) : at;
      const keep = outcome.kind === 'retry' ? 0 : KEEP_MS[outcome.kind];
      const reply = (await this.task(taskId, id, [
        'settle',
        id,
        owner,
        outcome.kind,
        JSON.stringify(outcome.attempt),
        next,
        keep,
      ])) as [number, number?];
      if (reply[0] !== 1) return false;
      // Recorded: the index update is best effort from here (list() repairs a lagging entry).
      const look = (reply[1] ?? 0) > 0 ? next : '';
      await this.index(['settled', id, outcome.kind, at, taskId, look]).catch(() => undefined);
      return true;
    });
  }

  list(status: WebhookStatus, limit: number, after?: string): Promise<StoredWebhook[]> {
    return this.guard(async () => {
      const set = this.statusKey(status);
      const want = Math.max(1, Math.floor(limit));
      let start = 0;
      if (after !== undefined) {
        const rank = await this.client().zrevrank(set, after);
        if (rank === null) return [];
        start = rank + 1;
      }
      const out: StoredWebhook[] = [];
      const repairs: Array<Array<string | number>> = [];
      for (let round = 0; round < LIST_ROUNDS && out.length < want; round++) {
        const flat = await this.client().zrevrange(set, start, start + LIST_BATCH - 1, 'WITHSCORES');
        if (flat.length === 0) break;
        const ids = flat.filter((_, j) => j % 2 === 0);
        start += ids.length;
        const found = await this.readMany(ids);
        for (const [j, m] of found.entries()) {
          if (m && m.status === status) {
            if (out.length < want) out.push(m);
          } else if (m) {
            repairs.push(this.placement(m));
          } else if (this.stale(status, Number(flat[2 * j + 1]))) {
            repairs.push(['drop', ids[j]!]);
          }
        }
        if (ids.length < LIST_BATCH) break;
      }
      for (const r of repairs) await this.index(r).catch(() => undefined);
      return out;
    });
  }

  get(id: string): Promise<StoredWebhook | null> {
    return this.guard(async () => (await this.readMany([id]))[0] ?? null);
  }

  retry(id: string, now: number): Promise<StoredWebhook | null> {
    return this.guard(async () => {
      const taskId = await this.taskOf(id);
      if (taskId === null) return null;
      // As before a commit: the queue is about to grow, so the mark must stay.
      await this.announce(taskId);
      await this.index(['mark', taskId, Math.floor(now)]);
      const reply = (await this.task(taskId, id, ['retry', id, Math.floor(now)])) as Array<string | number>;
      if (reply.length === 0) return null;
      const [flag, m, st, at] = reply as [number, string, string, string];
      if (flag === 1) await this.index(['requeued', id, orderOf(now, 0)]);
      return toStored(m, st, at);
    });
  }

  counts(): Promise<{ pending: number; failed: number; delivered: number; oldestPendingAt: number | null }> {
    return this.guard(async () => {
      const [, , , , pending, failed, delivered] = this.keys.outboxIndex as [string, ...string[]];
      const replies = await this.client()
        .multi()
        .zcard(pending!)
        .zcard(failed!)
        .zcard(delivered!)
        .zrange(pending!, '0', '9')
        .exec();
      if (!replies) throw new Error('outbox counts: transaction aborted');
      for (const [err] of replies) if (err) throw err;
      const [p, f, d, first] = replies.map(([, v]) => v) as [number, number, number, string[]];
      // The oldest pending message among the first entries that check out.
      const found = await this.readMany(first);
      const times = found.filter((m) => m?.status === 'pending').map((m) => (m as StoredWebhook).createdAt);
      return { pending: p, failed: f, delivered: d, oldestPendingAt: times.length > 0 ? Math.min(...times) : null };
    });
  }

  /** Messages by id (null for unknown ones), each read in its task's slot. */
  private async readMany(ids: readonly string[]): Promise<Array<StoredWebhook | null>> {
    if (ids.length === 0) return [];
    const tasks = await this.client().hmget(this.keys.outboxIndex[3]!, ...ids);
    return Promise.all(
      ids.map(async (id, j) => {
        const taskId = tasks[j];
        if (!taskId) return null;
        const got = (await this.task(taskId, id, ['get', id])) as string[];
        return got.length === 3 ? toStored(got[0]!, got[1]!, got[2]!) : null;
      }),
    );
  }

  /** The index entry a message should have, as an `place` call of outbox-index.lua. */
  private placement(m: StoredWebhook): Array<string | number> {
    const last = m.attempts.at(-1)?.at ?? m.createdAt;
    const score = m.status === 'pending' ? orderOf(m.createdAt, 0) : Math.floor(last);
    return ['place', m.id, m.taskId, m.status, score];
  }

  /** An entry of the `status` set, scored `score`, is old enough to be a ghost. */
  private stale(status: WebhookStatus, score: number): boolean {
    const at = status === 'pending' ? score / 1000 : score;
    return at < Date.now() - GHOST_GRACE_MS;
  }

  private statusKey(status: WebhookStatus): string {
    const idx = this.keys.outboxIndex;
    return (status === 'pending' ? idx[4] : status === 'failed' ? idx[5] : idx[6]) as string;
  }

  private async taskOf(id: string): Promise<string | null> {
    return this.client().hget(this.keys.outboxIndex[3]!, id);
  }

  /** A commit (or retry) with messages is under way on this task. */
  private async announce(taskId: string): Promise<void> {
    await this.task(taskId, taskId, ['intent', INTENT_TTL_MS]);
  }

  private task(taskId: string, msg: string, args: Array<string | number>): Promise<unknown> {
    const k = this.keys.outbox(taskId);
    return scripts().outbox.run(this.client(), [k.hash, k.queue, k.intent, k.settled(msg)], args);
  }

  private index(args: Array<string | number>): Promise<unknown> {
    return scripts().outboxIndex.run(this.client(), this.keys.outboxIndex, args);
  }
}
