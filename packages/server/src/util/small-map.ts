/**
 * A Map for the many tiny maps of a busy node: a connection's subscriptions, a
 * channel's subscribers, a subscriber's channels. Most hold one entry, and even an
 * empty `Map` costs ~190 bytes of hash table (a `Set` ~230); this keeps up to `SMALL`
 * entries in one exact-size array of keys and values (~90 bytes with one entry; a
 * linear scan over ≤ 8 keys is as fast as hashing) and becomes a real Map past
 * that. Iteration order is not part of the contract.
 */
const SMALL = 8;

/** The shared empty list (never written: a change replaces it). */
const NONE: unknown[] = [];

export class SmallMap<K, V> {
  /** While small: key, value, key, value, … (replaced on every change, never grown in place). */
  private items: unknown[] = NONE;
  private big: Map<K, V> | null = null;

  get size(): number {
    return this.big ? this.big.size : this.items.length >> 1;
  }

  get(key: K): V | undefined {
    if (this.big) return this.big.get(key);
    const i = this.indexOf(key);
    return i < 0 ? undefined : (this.items[i + 1] as V);
  }

  has(key: K): boolean {
    return this.big ? this.big.has(key) : this.indexOf(key) >= 0;
  }

  set(key: K, value: V): this {
    if (this.big) {
      this.big.set(key, value);
      return this;
    }
    const i = this.indexOf(key);
    if (i >= 0) {
      this.items[i + 1] = value;
    } else if (this.items.length < 2 * SMALL) {
      this.items = this.items.concat([key, value]);
    } else {
      const big = new Map<K, V>();
      for (let j = 0; j < this.items.length; j += 2) big.set(this.items[j] as K, this.items[j + 1] as V);
      big.set(key, value);
      this.big = big;
      this.items = NONE;
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.big) return this.big.delete(key);
    const i = this.indexOf(key);
    if (i < 0) return false;
    this.items = this.items.length === 2 ? NONE : this.items.filter((_, j) => j !== i && j !== i + 1);
    return true;
  }

  clear(): void {
    this.big = null;
    this.items = NONE;
  }

  /** The keys, as a new array (the map may change while a caller goes through it). */
  keys(): K[] {
    if (this.big) return Array.from(this.big.keys());
    const out: K[] = [];
    for (let j = 0; j < this.items.length; j += 2) out.push(this.items[j] as K);
    return out;
  }

  /** The values, as a new array (the map may change while a caller goes through it). */
  values(): V[] {
    if (this.big) return Array.from(this.big.values());
    const out: V[] = [];
    for (let j = 1; j < this.items.length; j += 2) out.push(this.items[j] as V);
    return out;
  }

  private indexOf(key: K): number {
    const items = this.items;
    for (let j = 0; j < items.length; j += 2) if (items[j] === key) return j;
    return -1;
  }
}
