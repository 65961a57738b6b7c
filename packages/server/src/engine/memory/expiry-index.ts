import type { ExpiredRequest, ExpiredTask } from '../types.js';

const before = (a: ExpiredTask, b: ExpiredTask): boolean =>
  a.finishedAt < b.finishedAt || (a.finishedAt === b.finishedAt && a.id < b.id);

/**
 * Top-level tasks that have ended, sorted by (finishedAt, id): the retention sweep's
 * candidates, a page at a time from a cursor. Tasks end mostly in time order, so an
 * insertion lands at or near the end of the array.
 */
export class ExpiryIndex {
  private readonly entries: ExpiredTask[] = [];
  private readonly byId = new Map<string, ExpiredTask>();

  /** Record (or move) a task's end; null forgets it. */
  set(id: string, finishedAt: number | null): void {
    const known = this.byId.get(id);
    if (known && known.finishedAt === finishedAt) return;
    if (known) this.delete(id);
    if (finishedAt === null) return;
    const entry = { id, finishedAt };
    this.entries.splice(this.search(entry), 0, entry);
    this.byId.set(id, entry);
  }

  delete(id: string): void {
    const known = this.byId.get(id);
    if (!known) return;
    this.byId.delete(id);
    const at = this.search(known);
    if (this.entries[at]?.id === id) this.entries.splice(at, 1);
  }

  page(req: ExpiredRequest): ExpiredTask[] {
    const limit = Math.max(0, Math.floor(req.limit));
    const out: ExpiredTask[] = [];
    let i = req.after ? this.search(req.after) : 0;
    if (req.after && this.entries[i]?.id === req.after.id && this.entries[i]?.finishedAt === req.after.finishedAt) i++;
    for (; i < this.entries.length && out.length < limit; i++) {
      const entry = this.entries[i] as ExpiredTask;
      if (entry.finishedAt > req.before) break;
      out.push({ ...entry });
    }
    return out;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Index of the first entry not before `key`. */
  private search(key: ExpiredTask): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.entries[mid] as ExpiredTask, key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
