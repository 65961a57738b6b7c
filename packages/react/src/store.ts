/**
 * The store under every handle hook: a useSyncExternalStore over a client handle
 * that exists only while React is subscribed. The handle is acquired in `subscribe`
 * (the commit phase, never during render) and released by its cleanup, so an id
 * change, an unmount or StrictMode's extra cycle always pairs acquire with release.
 * The client ref-counts handles per channel: many components share one server
 * subscription. `get` returns the same object until one of its fields changes.
 */
import { useMemo, useSyncExternalStore, type DependencyList } from 'react';

export interface Releasable {
  subscribe(listener: (notice: unknown) => void): () => void;
  release(): void;
}
type NoticeOf<H extends Releasable> = Parameters<Parameters<H['subscribe']>[0]>[0];

export interface HandleStore<T> {
  get: () => T;
  subscribe: (onChange: () => void) => () => void;
}

export function createHandleStore<H extends Releasable, T extends object>(
  open: () => H | undefined,
  read: (handle: H | undefined) => T,
  onNotice?: (notice: NoticeOf<H>) => void,
): HandleStore<T> {
  let handle: H | undefined;
  let last = read(undefined);
  return {
    get: () => {
      const next = read(handle);
      if ((Object.keys(next) as (keyof T)[]).some((k) => next[k] !== last[k])) last = next;
      return last;
    },
    subscribe: (onChange) => {
      const h = (handle = open());
      const off = h?.subscribe((notice: NoticeOf<H>) => {
        onNotice?.(notice);
        onChange();
      });
      onChange(); // a shared subscription may already hold data
      return () => {
        off?.();
        h?.release();
        if (handle === h) handle = undefined;
      };
    },
  };
}

/** `deps` are what `open` depends on: a change means a new handle. */
export function useHandleStore<H extends Releasable, T extends object>(
  open: () => H | undefined,
  read: (handle: H | undefined) => T,
  deps: DependencyList,
  onNotice?: (notice: NoticeOf<H>) => void,
): T {
  const store = useMemo(() => createHandleStore(open, read, onNotice), deps);
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
