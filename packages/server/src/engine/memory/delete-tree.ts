/**
 * The memory engine's deletion of a task tree (protocol 1.1 §8, retention): checked
 * whole, then removed from every structure at once, in one synchronous step.
 */
import { MAX_BATCH_DEPTH, freezeDeep, taskChannel, userChannel, type Task } from '@taskwire/protocol';
import { newEpoch } from '../../util/random-id.js';
import { collectTree, deletedData, treeRefusal } from '../retention.js';
import type { DeleteTreeRequest, DeleteTreeResult, StoredEvent } from '../types.js';
import type { ChannelLog } from './channel-log.js';
import type { ExpiringMap } from './expiring-map.js';
import type { ExpiryIndex } from './expiry-index.js';
import type { StallIndex } from './stall-index.js';
import type { TaskList } from './task-list.js';

/** The memory engine's structures a deletion touches. */
export interface MemoryTables {
  tasks: Map<string, Task>;
  order: TaskList;
  childIds: Map<string, Set<string>>;
  streams: Map<string, Map<string, string[]>>;
  channels: Map<string, ChannelLog>;
  stalls: StallIndex;
  expiry: ExpiryIndex;
  createKeys: ExpiringMap<string>;
  /** Each task's create idempotency key. */
  createKeyOf: Map<string, string>;
  /** Append an event to a channel's log (stored, trimmed). */
  append(channel: string, data: unknown, json: string, now: number): StoredEvent;
}

/** Delete the tree, or say why not; the events to deliver once it is done (user events and notices). */
export function deleteTree(
  t: MemoryTables,
  req: DeleteTreeRequest,
  now: number,
): { result: DeleteTreeResult; events: StoredEvent[] } {
  const root = t.tasks.get(req.id);
  if (!root) return { result: { ok: false, reason: 'not_found' }, events: [] };
  if (root.parentId !== null && t.tasks.has(root.parentId)) {
    return { result: { ok: false, reason: 'child', parentId: root.parentId }, events: [] };
  }
  const tree = collectTree(
    root,
    (id) => Array.from(t.childIds.get(id) ?? [], (c) => t.tasks.get(c) as Task),
    MAX_BATCH_DEPTH,
  );
  const refused = treeRefusal(tree, req.finishedBefore);
  if (refused) return { result: refused, events: [] };
  const events: StoredEvent[] = [];
  // Deepest first, so no moment leaves a child without its parent.
  for (const task of tree.reverse()) {
    const data = deletedData(task.id);
    const json = JSON.stringify(data);
    const channel = taskChannel(task.id);
    const log = t.channels.get(channel);
    t.tasks.delete(task.id);
    t.order.remove(task);
    if (task.parentId !== null) t.childIds.get(task.parentId)?.delete(task.id);
    t.childIds.delete(task.id);
    t.streams.delete(task.id);
    t.channels.delete(channel);
    t.stalls.set(task.id, null);
    t.expiry.delete(task.id);
    const key = t.createKeyOf.get(task.id);
    if (key !== undefined) t.createKeys.delete(key);
    t.createKeyOf.delete(task.id);
    events.push(t.append(userChannel(task.owner), data, json, now));
    // The channel's last event: delivered to its listeners, stored nowhere.
    const epoch = log?.epoch ?? newEpoch();
    events.push(freezeDeep({ channel, epoch, offset: (log?.top ?? 0) + 1, time: now, data, json }));
  }
  return { result: { ok: true, deleted: tree.length }, events };
}
