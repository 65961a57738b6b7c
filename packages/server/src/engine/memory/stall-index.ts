/**
 * Stall deadlines by task: a map (the truth) plus a min-heap ordered by deadline
 * (the index), so finding due tasks costs O(k log n) instead of a scan of every task.
 * Replaced or cleared deadlines leave stale heap entries that are skipped when they
 * surface; the heap is rebuilt when stale entries outnumber live ones, which keeps
 * its size proportional to the number of tasks with a deadline.
 */
export class StallIndex {
  private readonly deadlines = new Map<string, number>();
  private heap: Array<{ at: number; id: string }> = [];

  set(id: string, at: number | null): void {
    if (at === null) {
      this.deadlines.delete(id);
    } else {
      this.deadlines.set(id, at);
      this.push({ at, id });
    }
    if (this.heap.length > 2 * this.deadlines.size + 1024) this.rebuild();
  }

  get(id: string): number | null {
    return this.deadlines.get(id) ?? null;
  }

  /** Ids whose deadline is at or before `now`, earliest first, at most `limit`. Does not remove them. */
  due(now: number, limit: number): string[] {
    const found: Array<{ at: number; id: string }> = [];
    while (found.length < limit) {
      const top = this.heap[0];
      if (!top || top.at > now) break;
      this.pop();
      // Stale entry (deadline replaced or cleared): drop it for good.
      if (this.deadlines.get(top.id) !== top.at) continue;
      // The same deadline may have been pushed twice (set to an equal value): report it once.
      if (found.some((f) => f.id === top.id)) continue;
      found.push(top);
    }
    for (const entry of found) this.push(entry);
    return found.map((f) => f.id);
  }

  get size(): number {
    return this.deadlines.size;
  }

  /** Heap entries, stale ones included (for tests of boundedness). */
  get heapSize(): number {
    return this.heap.length;
  }

  clear(): void {
    this.deadlines.clear();
    this.heap = [];
  }

  private rebuild(): void {
    this.heap = [];
    for (const [id, at] of this.deadlines) this.push({ at, id });
  }

  private push(entry: { at: number; id: string }): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as { at: number; id: string };
      if (p.at <= entry.at) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      let smallestAt = last.at;
      const left = heap[l];
      const right = heap[r];
      if (left && left.at < smallestAt) {
        smallest = l;
        smallestAt = left.at;
      }
      if (right && right.at < smallestAt) smallest = r;
      if (smallest === i) break;
      heap[i] = heap[smallest] as { at: number; id: string };
      i = smallest;
    }
    heap[i] = last;
  }
}
