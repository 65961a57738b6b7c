import type { Task } from '@taskwire/protocol';
import { compareKeys, decodeCursor, encodeCursor, type SortKey } from '../cursor.js';
import type { ListTasksRequest } from '../types.js';

/**
 * Task ids kept sorted by (createdAt, id) ascending, so a page newest-first is a
 * walk backwards from the cursor. Tasks are mostly created in time order, so an
 * insertion lands at or near the end of the array.
 */
export class TaskList {
  private readonly keys: SortKey[] = [];

  add(task: Task): void {
    const key: SortKey = [task.createdAt, task.id];
    this.keys.splice(this.search(key), 0, key);
  }

  remove(task: Task): void {
    const at = this.search([task.createdAt, task.id]);
    if (this.keys[at]?.[1] === task.id) this.keys.splice(at, 1);
  }

  /** Index of the first key at or after `key`. */
  private search(key: SortKey): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(this.keys[mid] as SortKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
        if (compareKeys(this.keys[mid] as SortKey, after) < 0) lo = mid + 1;
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
      if (req.parent !== undefined && task.parentId !== req.parent) continue;
      if (req.tag !== undefined && !task.tags.includes(req.tag)) continue;
      // One match past a full page: there is a next page.
      if (tasks.length === limit) return { tasks, nextCursor: encodeCursor(last as SortKey) };
      tasks.push(task);
      last = key;
    }
    return { tasks, nextCursor: null };
  }
}
