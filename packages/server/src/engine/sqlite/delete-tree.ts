/**
 * The SQLite engine's retention: the sweep's candidates, and the deletion of a task
 * tree in one immediate transaction (checked whole, then every row of every task of
 * it: snapshot, tags, stream chunks, channel and events, create idempotency key), with
 * a `task.deleted` event on each owner's channel in the same transaction.
 */
import { MAX_BATCH_DEPTH, freezeDeep, taskChannel, userChannel, type Task } from '@taskwire/protocol';
import { newEpoch } from '../../util/random-id.js';
import { deletedData, treeRefusal } from '../retention.js';
import type {
  DeleteTreeRequest,
  DeleteTreeResult,
  EngineLimits,
  ExpiredRequest,
  ExpiredTask,
  StoredEvent,
} from '../types.js';
import { ChannelWriter } from './channels.js';
import { toCount, toMs, type Statements } from './statements.js';

export function expiredPage(st: Statements, req: ExpiredRequest): ExpiredTask[] {
  const limit = toCount(req.limit);
  if (limit === 0) return [];
  return st.expired.all({
    before: toMs(req.before),
    afterAt: req.after ? toMs(req.after.finishedAt) : Number.MIN_SAFE_INTEGER,
    afterId: req.after?.id ?? '',
    limit,
  });
}

/** Delete the trees in one transaction, each on its own; the events to deliver once committed (user events, then notices). */
export function deleteTrees(
  st: Statements,
  tx: <T>(fn: () => T) => T,
  limits: EngineLimits,
  reqs: readonly DeleteTreeRequest[],
  now: number,
  parse: (snapshot: string) => Task,
): { results: DeleteTreeResult[]; events: StoredEvent[] } {
  return tx(() => {
    const writer = new ChannelWriter(st, limits, now);
    const events: StoredEvent[] = [];
    const notices: StoredEvent[] = [];
    const results = reqs.map((req) => deleteOne(st, writer, req, now, parse, events, notices));
    writer.finish();
    return { results, events: [...events, ...notices] };
  });
}

function deleteOne(
  st: Statements,
  writer: ChannelWriter,
  req: DeleteTreeRequest,
  now: number,
  parse: (snapshot: string) => Task,
  events: StoredEvent[],
  notices: StoredEvent[],
): DeleteTreeResult {
  const rows = st.tree.all({ id: req.id, maxDepth: MAX_BATCH_DEPTH });
  const root = rows.find((r) => r.depth === 0);
  if (!root) return { ok: false, reason: 'not_found' };
  const tasks = rows.map((r) => parse(r.snapshot));
  const rootTask = tasks[rows.indexOf(root)] as Task;
  if (rootTask.parentId !== null && st.getTask.get(rootTask.parentId)) {
    return { ok: false, reason: 'child', parentId: rootTask.parentId };
  }
  const refused = treeRefusal(tasks, req.finishedBefore);
  if (refused) return refused;
  rows.forEach((row, i) => {
    const task = tasks[i] as Task;
    const channel = taskChannel(task.id);
    const position = st.getChannel.get(channel);
    st.deleteTask.run(task.id);
    st.deleteTags.run(task.id);
    st.deleteChunks.run(task.id);
    st.deleteEvents.run(channel);
    st.deleteChannel.run(channel);
    if (row.createKey !== null) st.deleteKey.run(row.createKey);
    const data = deletedData(task.id);
    const json = JSON.stringify(data);
    events.push(writer.append(userChannel(task.owner), data, json));
    // The channel's last event: delivered to its listeners, stored nowhere.
    const epoch = position?.epoch ?? newEpoch();
    notices.push(freezeDeep({ channel, epoch, offset: (position?.top ?? 0) + 1, time: now, data, json }));
  });
  return { ok: true, deleted: rows.length };
}
