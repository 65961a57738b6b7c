/**
 * A batch's children for its detail: `GET /tasks?parent=<id>` (every page, at most
 * MAX_CHILDREN_READ), read each time the owner's feed `user:<owner>` becomes
 * `subscribed` (first load, and after every reconnect) or resyncs, and kept live from
 * that feed, where every child's change is published: no subscription per child.
 * Snapshots merge by the version rule, so a late HTTP page never moves a child back.
 */
import { useEffect, useMemo, useReducer, useState } from 'react';
import type { Task } from '@taskwire/client';
import { useChannel, useTaskwireClient } from '@taskwire/react';
import { useDashboard } from './hooks.js';
import { taskOf } from './use-task-list.js';

/** Children read over HTTP at most (pages of 500). */
export const MAX_CHILDREN_READ = 2_000;
const PAGE = 500;

export interface Children {
  /** Oldest first. */
  children: readonly Task[];
  loading: boolean;
  error: string | null;
  /** More children exist than were read. */
  capped: boolean;
}

type Held = ReadonlyMap<string, Task>;

function merge(state: Held, incoming: readonly Task[]): Held {
  let next: Map<string, Task> | null = null;
  for (const task of incoming) {
    const held = (next ?? state).get(task.id);
    if (held && held.version >= task.version) continue;
    next ??= new Map(state);
    next.set(task.id, task);
  }
  return next ?? state;
}

const byCreated = (a: Task, b: Task): number =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1;

export function useChildren(parent: Task): Children {
  const { api } = useDashboard();
  const client = useTaskwireClient();
  const feed = `user:${parent.owner}`;
  const [reads, reread] = useReducer((n: number) => n + 1, 0);
  const isBatch = parent.children !== null || parent.batch !== null;
  const [held, add] = useReducer(merge, new Map<string, Task>());
  const [loaded, setLoaded] = useState(false);
  const [capped, setCapped] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { state } = useChannel(feed, (e) => {
    const task = taskOf(e.data);
    if (task && task.parentId === parent.id) add([task]);
  });

  // Events lost in a gap the server could not replay: read the children again.
  useEffect(() => {
    const handle = client.channel(feed);
    const off = handle.subscribe((n) => {
      if (n.type === 'resync') reread();
    });
    return () => {
      off();
      handle.release();
    };
  }, [client, feed]);

  useEffect(() => {
    if (!isBatch || state !== 'subscribed') return undefined;
    let stopped = false;
    void (async () => {
      try {
        let cursor: string | null = null;
        let read = 0;
        do {
          const page: { tasks: Task[]; nextCursor: string | null } = await api.listTasks({
            parent: parent.id,
            limit: PAGE,
            ...(cursor ? { cursor } : {}),
          });
          if (stopped) return;
          add(page.tasks);
          read += page.tasks.length;
          cursor = page.nextCursor;
        } while (cursor && read < MAX_CHILDREN_READ);
        setCapped(cursor !== null);
        setLoaded(true);
        setError(null);
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err.message : String(err));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [api, parent.id, isBatch, state, reads]);

  const children = useMemo(() => Array.from(held.values()).sort(byCreated), [held]);
  return { children, loading: isBatch && !loaded && error === null, error, capped };
}
