/**
 * A listener set with `subscribe(listener) → unsubscribe`, the contract React's
 * useSyncExternalStore expects. Listeners may unsubscribe while being notified:
 * we iterate over a copy, never over the set we mutate.
 */
export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.#set.add(listener);
    return () => {
      this.#set.delete(listener);
    };
  }

  emit(value: T): void {
    for (const listener of Array.from(this.#set)) listener(value);
  }

  get size(): number {
    return this.#set.size;
  }
}
