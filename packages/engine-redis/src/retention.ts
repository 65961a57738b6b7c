/**
 * Retention on Redis (protocol 1.1 §8). The sweep's candidates are the `{idx}:expiry`
 * sorted set (written by the derived step of a top-level task's terminal commit). A
 * tree spans many hash slots, so it is deleted task by task, deepest first, the root
 * last: for each task, its `task.deleted` event on `user:<owner>` (a publish with the
 * idempotency key `task.deleted:<id>`, so a repeat within the key's TTL appends
 * nothing), then delete.lua in the task's slot (snapshot, channel, streams, and the
 * notice on the task channel), then its create key and its index entries. A node that
 * dies half-way leaves the root, still a candidate: the next sweep finishes the tree.
 * Two nodes deleting one tree at once delete each task once (delete.lua answers
 * `gone` to the second); the one that deleted the root reports the tree.
 */
import { MAX_BATCH_DEPTH, taskChannel, userChannel, type Task } from '@taskwire/protocol';
import {
  deletedData,
  newEpoch,
  treeRefusal,
  type DeleteTreeRequest,
  type DeleteTreeResult,
  type ExpiredRequest,
  type ExpiredTask,
  type PublishRequest,
  type PublishResult,
} from '@taskwire/server/engine';
import { expiryMember, listMember, type Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';
import type { TaskIndex } from './task-index.js';

export interface RetentionDeps {
  client: () => Client;
  keys: Keys;
  sharded: boolean;
  index: TaskIndex;
  getTask(id: string): Promise<Task | null>;
  publish(req: PublishRequest): Promise<PublishResult>;
}

export async function expired(d: RetentionDeps, req: ExpiredRequest): Promise<ExpiredTask[]> {
  const limit = Math.max(0, Math.floor(req.limit));
  if (limit === 0) return [];
  const min = req.after ? `(${expiryMember(req.after.finishedAt, req.after.id)}` : '-';
  // Exclusive: every member of a later millisecond sorts above `<before + 1>` alone.
  const max = `(${expiryMember(req.before + 1, '').trimEnd()}`;
  const client = d.client();
  const members = await client.zrangebylex(d.keys.index.expiry, min, max, 'LIMIT', 0, limit);
  const found = members.map((m) => {
    const space = m.indexOf(' ');
    return { id: m.slice(space + 1), finishedAt: Number(m.slice(0, space)), member: m };
  });
  // An entry whose task is gone (a deletion cut short after its root) is dropped here.
  const exists = await Promise.all(found.map((f) => client.exists(d.keys.task(f.id))));
  const stale = found.filter((_, i) => exists[i] === 0);
  if (stale.length > 0) await client.zrem(d.keys.index.expiry, ...stale.map((f) => f.member));
  return found.filter((_, i) => exists[i] === 1).map(({ id, finishedAt }) => ({ id, finishedAt }));
}

export async function deleteTrees(d: RetentionDeps, reqs: readonly DeleteTreeRequest[]): Promise<DeleteTreeResult[]> {
  const results: DeleteTreeResult[] = [];
  for (const req of reqs) results.push(await deleteTree(d, req));
  return results;
}

async function deleteTree(d: RetentionDeps, req: DeleteTreeRequest): Promise<DeleteTreeResult> {
  const root = await d.getTask(req.id);
  if (!root) return { ok: false, reason: 'not_found' };
  if (root.parentId !== null && (await d.getTask(root.parentId))) {
    return { ok: false, reason: 'child', parentId: root.parentId };
  }
  const tree = await collect(d, root);
  const refused = treeRefusal(tree, req.finishedBefore);
  if (refused) return refused;
  let rootDeleted = false;
  for (const task of tree.reverse()) {
    const outcome = await deleteTask(d, task);
    if (outcome === 'active') return { ok: false, reason: 'active', taskId: task.id };
    if (task === root) rootDeleted = outcome === 'ok';
  }
  return rootDeleted ? { ok: true, deleted: tree.length } : { ok: false, reason: 'not_found' };
}

/** The tree under `root`, a level at a time (every task of a level read at once). */
async function collect(d: RetentionDeps, root: Task): Promise<Task[]> {
  const tree = [root];
  const seen = new Set([root.id]);
  let level = [root];
  for (let depth = 0; depth < MAX_BATCH_DEPTH && level.length > 0; depth++) {
    const found = (await Promise.all(level.map((t) => d.index.children(t.id)))).flat();
    level = found.filter((t) => !seen.has(t.id) && seen.add(t.id));
    tree.push(...level);
  }
  return tree;
}

async function deleteTask(d: RetentionDeps, task: Task): Promise<'ok' | 'gone' | 'active'> {
  const data = deletedData(task.id);
  const json = JSON.stringify(data);
  await d.publish({ channel: userChannel(task.owner), data, idempotencyKey: `task.deleted:${task.id}` });
  const channel = taskChannel(task.id);
  const ck = d.keys.channel(channel);
  const [outcome, idem] = (await scripts().delete.run(
    d.client(),
    [d.keys.task(task.id), d.keys.pending(task.id), ck.meta, ck.stream],
    [d.sharded ? '1' : '0', ck.pubsub, JSON.stringify(channel), json, newEpoch(), d.keys.streamChunksPrefix(task.id)],
  )) as [string, string?];
  if (outcome === 'active') return 'active';
  const client = d.client();
  const idx = d.keys.index;
  const member = listMember(task.createdAt, task.id);
  const writes: Array<Promise<unknown>> = [
    client.zrem(idx.all, member),
    client.zrem(idx.owner(task.owner), member),
    client.zrem(idx.stalls, task.id),
    client.hdel(idx.stallVersions, task.id),
    client.del(idx.parent(task.id)),
    ...task.tags.map((tag) => client.zrem(idx.tag(tag), member)),
  ];
  if (task.parentId !== null) writes.push(client.zrem(idx.parent(task.parentId), member));
  if (idem) writes.push(dropCreateKey(client, d.keys.createKey(idem), task.id));
  await Promise.all(writes);
  // Last: until here, the root stays a candidate of the sweep, which finishes a tree left half-deleted.
  const finished = task.finishedAt === null ? NaN : Date.parse(task.finishedAt);
  if (task.parentId === null && Number.isFinite(finished)) {
    await client.zrem(idx.expiry, expiryMember(finished, task.id));
  }
  return outcome === 'ok' ? 'ok' : 'gone';
}

/** The create key, if it still names this task (a new task may have taken it since). */
async function dropCreateKey(client: Client, key: string, taskId: string): Promise<void> {
  if ((await client.get(key)) === taskId) await client.del(key);
}
