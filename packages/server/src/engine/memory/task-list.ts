import { TaskwireError, type Task } from '@taskwire/protocol';
import type { ListTasksRequest } from '../types.js';

/** The sort key of the task list: createdAt, then id (both compared as strings; ISO dates sort as text). */
export type SortKey = readonly [createdAt: string, id: string];

function compare(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** The opaque cursor: base64url of the last returned sort key. */
export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string): SortKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw new TaskwireError('bad_request', 'invalid cursor');
  }
  return [value[0], value[1]];
}

/**
 * Task ids kept sorted by (createdAt, id) ascending, so a page newest-first is a
 * walk backwards from the cursor. Tasks are mostly created in time order, so an
 * insertion lands at or near the end of the array.
 */
export class TaskList {
  private readonly keys: SortKey[] = [];

  add(task: Task): void {
    const key: SortKey = [task.createdAt, task.id];
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.keys[mid] as SortKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.keys.splice(lo, 0, key);
  }

  page(req: ListTasksRequest, get: (id: string) => Task): { tasks: Task[]; nextCursor: string | null } {
    const limit = Math.max(1, Math.floor(req.limit));
    // Index of the first key at or after the cursor; everything before it is older.
    let end = this.keys.length;
    if (req.cursor !== undefined) {
      const after = decodeCursor(req.cursor);
      let lo = 0;
      let hi = this.keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compare(this.keys[mid] as SortKey, after) < 0) lo = mid + 1;
        else hi = mid;
      }
      end = lo;
    }
    const tasks: Task[] = [];
    let last: SortKey | null = null;
    for (let i = end - 1; i >= 0; i--) {
      const key = this.keys[i] as SortKey;
      const task = get(key[1]);
      if (req.owner !== undefined && task.owner !== req.owner) continue;
      if (req.status !== undefined && task.status !== req.status) continue;
      // One match past a full page: there is a next page.
      if (tasks.length === limit) return { tasks, nextCursor: encodeCursor(last as SortKey) };
      tasks.push(task);
      last = key;
    }
    return { tasks, nextCursor: null };
  }
}
