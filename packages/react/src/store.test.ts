import { describe, expect, it } from 'vitest';
import { createHandleStore } from './store.js';

/** A handle double: counts acquire/release, and notifies its listeners on demand. */
function handles() {
  const live = new Set<FakeHandle>();
  let opened = 0;
  class FakeHandle {
    value = 0;
    readonly listeners = new Set<(n: string) => void>();
    constructor() {
      opened += 1;
      live.add(this);
    }
    subscribe(listener: (n: string) => void): () => void {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    }
    release(): void {
      live.delete(this);
    }
    set(value: number): void {
      this.value = value;
      for (const l of Array.from(this.listeners)) l(`set ${value}`);
    }
  }
  return {
    open: () => new FakeHandle(),
    read: (h: FakeHandle | undefined) => ({ value: h?.value, open: h !== undefined }),
    live,
    get opened() {
      return opened;
    },
  };
}

describe('createHandleStore', () => {
  it('acquires nothing until subscribed: creating it and reading it have no side effects', () => {
    const h = handles();
    const store = createHandleStore(h.open, h.read);
    expect(store.get()).toEqual({ value: undefined, open: false });
    expect(h.opened).toBe(0);
  });

  it('acquires the handle on subscribe and releases it on cleanup', () => {
    const h = handles();
    const store = createHandleStore(h.open, h.read);
    let changes = 0;
    const off = store.subscribe(() => (changes += 1));
    expect(h.live.size).toBe(1);
    expect(changes).toBe(1); // told at once, in case a shared subscription already holds data
    expect(store.get()).toEqual({ value: 0, open: true });
    off();
    expect(h.live.size).toBe(0);
    expect(store.get()).toEqual({ value: undefined, open: false });
  });

  it('pairs every acquire with a release through StrictMode’s subscribe → cleanup → subscribe', () => {
    const h = handles();
    const store = createHandleStore(h.open, h.read);
    store.subscribe(() => undefined)();
    const off = store.subscribe(() => undefined);
    expect([h.opened, h.live.size]).toEqual([2, 1]);
    off();
    expect(h.live.size).toBe(0);
  });

  it('returns the same snapshot object until a field changes', () => {
    const h = handles();
    const store = createHandleStore(h.open, h.read);
    store.subscribe(() => undefined);
    const first = store.get();
    expect(store.get()).toBe(first);
    const [handle] = Array.from(h.live);
    handle!.set(5);
    const second = store.get();
    expect(second).not.toBe(first);
    expect(second).toEqual({ value: 5, open: true });
    expect(store.get()).toBe(second);
  });

  it('passes every notice, in order, before telling React to re-read', () => {
    const h = handles();
    const seen: string[] = [];
    const store = createHandleStore(h.open, h.read, (n) => seen.push(n));
    store.subscribe(() => seen.push('change'));
    const [handle] = Array.from(h.live);
    handle!.set(1);
    handle!.set(2);
    expect(seen).toEqual(['change', 'set 1', 'change', 'set 2', 'change']);
  });

  it('subscribes to nothing when open() gives no handle', () => {
    const h = handles();
    const store = createHandleStore(() => undefined, h.read);
    const off = store.subscribe(() => undefined);
    expect(store.get()).toEqual({ value: undefined, open: false });
    off();
    expect(h.opened).toBe(0);
  });
});
