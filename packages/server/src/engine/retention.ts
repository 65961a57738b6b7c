/**
 * What every engine shares for retention (protocol 1.1 §8): when a task ended, the
 * checks of a tree before it is deleted, the `task.deleted` data, and how the Hub
 * recognises the last event of a deleted task's channel. Pure.
 */
import { isTerminalStatus, type Task, type TaskEventData } from '@taskwire/protocol';
import type { DeleteTreeResult, StoredEvent } from './types.js';

/** When a task ended (ms since the epoch), or null while it has not. */
export function finishedMs(task: Task): number | null {
  if (!isTerminalStatus(task.status) || task.finishedAt === null) return null;
  const ms = Date.parse(task.finishedAt);
  return Number.isFinite(ms) ? ms : null;
}

/** The data of the event that says a task was deleted (on `user:<owner>`, and the notice on `task:<id>`). */
export function deletedData(taskId: string): TaskEventData {
  return { kind: 'task.deleted', taskId };
}

/**
 * Why a tree (its root first) may not be deleted, or null when it may: a task that has
 * not ended, or, for the sweep (`finishedBefore`), one that ended after the cutoff.
 */
export function treeRefusal(
  tree: readonly Task[],
  finishedBefore: number | undefined,
): Exclude<DeleteTreeResult, { ok: true }> | null {
  for (const task of tree) {
    const at = finishedMs(task);
    if (at === null) return { ok: false, reason: 'active', taskId: task.id };
    if (finishedBefore !== undefined && at > finishedBefore)
      return { ok: false, reason: 'not_expired', taskId: task.id };
  }
  return null;
}

/**
 * Every task of the tree under `root` (root first, then level by level), read with
 * `children`; at most `maxDepth` levels below the root, each task once.
 */
export function collectTree(root: Task, children: (id: string) => Task[], maxDepth: number): Task[] {
  const tree = [root];
  const seen = new Set([root.id]);
  let level = [root];
  for (let depth = 0; depth < maxDepth && level.length > 0; depth++) {
    const next: Task[] = [];
    for (const parent of level) {
      for (const child of children(parent.id)) {
        if (seen.has(child.id)) continue;
        seen.add(child.id);
        next.push(child);
      }
    }
    tree.push(...next);
    level = next;
  }
  return tree;
}

/** True for the last event of a deleted task's channel (the Hub ends its subscriptions with it). */
export function isDeletionNotice(event: StoredEvent): boolean {
  const data = event.data as { kind?: unknown } | null;
  return typeof data === 'object' && data !== null && data.kind === 'task.deleted' && event.channel.startsWith('task:');
}
