/**
 * Task commits in SQLite: one or several (a child and its parent), in one immediate
 * transaction, all or nothing. Each request's checks come first (its idempotency key,
 * then compare-and-set on `version`); the first that fails rolls back what the
 * others wrote and is the answer.
 */
import { TaskwireError, type Task } from '@taskwire/protocol';
import { checkAppend } from '../streams.js';
import { finishedMs } from '../retention.js';
import type {
  CommitRequest,
  CommitResult,
  EngineLimits,
  OutboxMessage,
  StoredEvent,
  StreamAppendRequest,
  StreamAppendResult,
} from '../types.js';
import { ChannelWriter } from './channels.js';
import { toMs, type Statements, type TaskColumns } from './statements.js';

export const createKey = (key: string): string => `c\n${key}`;

function columns(task: Task, stallAt: number | null): TaskColumns {
  return {
    id: task.id,
    owner: task.owner,
    parent: task.parentId ?? null,
    status: task.status,
    createdAt: task.createdAt,
    version: task.version,
    stallAt: stallAt === null ? null : toMs(stallAt),
    finishedAt: finishedMs(task),
    snapshot: JSON.stringify(task),
  };
}

/** Thrown inside the transaction to undo it; carries the answer. */
class Refused extends Error {
  constructor(readonly result: Exclude<CommitResult, { ok: true }>) {
    super('commit refused');
  }
}

export function commitTasks(
  st: Statements,
  tx: <T>(fn: () => T) => T,
  limits: EngineLimits,
  reqs: readonly CommitRequest[],
  now: number,
  parse: (snapshot: string) => Task,
  outbox: { add(messages: readonly OutboxMessage[]): void },
): CommitResult {
  for (const { task, expectedVersion } of reqs) {
    if (task.version !== expectedVersion + 1 && !(task.version === expectedVersion && expectedVersion > 0)) {
      throw new TaskwireError('internal', `commit: version ${task.version} after ${expectedVersion} is invalid`);
    }
  }
  try {
    return tx((): CommitResult => {
      const writer = new ChannelWriter(st, limits, now);
      const events: StoredEvent[] = [];
      for (const req of reqs) {
        const { task, expectedVersion } = req;
        // The idempotency check comes first: a repeated create must read as a duplicate, not a conflict.
        if (req.idempotency) {
          const known = st.getKey.get(createKey(req.idempotency.key), now);
          if (known !== undefined) throw new Refused({ ok: false, reason: 'duplicate', taskId: known });
        }
        const stored = st.getTask.get(task.id);
        if ((stored?.version ?? 0) !== expectedVersion) {
          const current = stored ? parse(stored.snapshot) : null;
          throw new Refused({ ok: false, reason: 'conflict', current });
        }
        const row = columns(task, req.stallAt);
        if (!stored) {
          st.insertTask.run(row);
          for (const tag of task.tags ?? []) st.insertTag.run(tag, task.id, task.createdAt);
        } else if (st.updateTask.run({ ...row, expected: expectedVersion }).changes !== 1) {
          throw new Error(`commit: task ${task.id} changed inside its transaction`);
        }
        if (req.idempotency) {
          const key = createKey(req.idempotency.key);
          st.putKey.run(key, task.id, toMs(now + req.idempotency.ttlMs));
          st.setCreateKey.run(key, task.id);
        }
        if (req.webhooks) outbox.add(req.webhooks);
        for (const e of req.events) events.push(writer.append(e.channel, e.data, e.json));
      }
      writer.finish();
      return { ok: true, events };
    });
  } catch (err) {
    if (err instanceof Refused) return err.result;
    throw err;
  }
}

/** One stream chunk, in one transaction: the chunk, the task's streams summary (same version), the deadline, the event. */
export function appendChunk(
  st: Statements,
  tx: <T>(fn: () => T) => T,
  limits: EngineLimits,
  req: StreamAppendRequest,
  now: number,
  parse: (snapshot: string) => Task,
): StreamAppendResult {
  return tx((): StreamAppendResult => {
    const row = st.getTask.get(req.taskId);
    const task = row ? parse(row.snapshot) : null;
    const checked = checkAppend(task, req);
    if (!checked.ok) return checked;
    st.insertChunk.run(req.taskId, req.stream, req.index, req.text);
    const stallAt = req.stallAt === null ? null : toMs(req.stallAt);
    st.setStreams.run(JSON.stringify(checked.streams), stallAt, req.taskId);
    const writer = new ChannelWriter(st, limits, now);
    const event = writer.append(req.event.channel, req.event.data, req.event.json);
    writer.finish();
    return { ok: true, event, summary: checked.summary };
  });
}
