/**
 * A Map whose entries expire. Expired entries are invisible at once and removed
 * lazily: every write examines a few entries from a cursor that walks the map
 * round-robin, so dead keys never accumulate whatever their TTLs, and no call does
 * more than a bounded amount of cleanup work.
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private cursor: Iterator<[string, { value: V; expiresAt: number }]> | null = null;

  /** @param pruneBatch entries examined per write; above 1 the sweep outpaces insertion. */
  constructor(private readonly pruneBatch = 8) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  set(key: string, value: V, ttlMs: number, now: number): void {
    this.prune(now);
    // Delete first so a re-set key moves to the end of the iteration order.
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Remove up to `pruneBatch` expired entries, resuming where the last call stopped. */
  prune(now: number): void {
    for (let i = 0; i < this.pruneBatch && this.entries.size > 0; i++) {
      this.cursor ??= this.entries.entries();
      const step = this.cursor.next();
      if (step.done) {
        this.cursor = null;
        continue;
      }
      const [key, entry] = step.value;
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
  }

  /** Entries stored, expired ones not yet pruned included (for tests of boundedness). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.cursor = null;
  }
}
