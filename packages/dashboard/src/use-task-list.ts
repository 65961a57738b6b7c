/**
 * The tasks the list shows.
 *
 * - A user: their feed, `useTasks()` (`user:<sub>`), live.
 * - An admin: `GET /tasks` (newest 200, re-read every 5 s so new owners appear),
 *   kept live by subscribing to `user:<owner>` for every owner in it. Snapshots
 *   merge by the version rule, so a late HTTP answer never moves a task backwards.
 */
import { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { Task, TaskwireClient } from '@taskwire/client';
import { useTaskwireClient, useTasks } from '@taskwire/react';
import { byUpdated } from './format.js';
import { useDashboard } from './hooks.js';

const POLL_MS = 5_000;

export interface TaskList {
  tasks: readonly Task[];
  loading: boolean;
  error: string | null;
}

type Tasks = ReadonlyMap<string, Task>;

/** Snapshots to merge, or a task deleted (`task.deleted` on its owner's feed) to drop. */
type Change = readonly Task[] | { deleted: string };

function merge(state: Tasks, change: Change): Tasks {
  if ('deleted' in change) {
    if (!state.has(change.deleted)) return state;
    const next = new Map(state);
    next.delete(change.deleted);
    return next;
  }
  const incoming = change;
  let next: Map<string, Task> | null = null;
  for (const task of incoming) {
    const held = (next ?? state).get(task.id);
    if (held && held.version >= task.version) continue;
    next ??= new Map(state);
    next.set(task.id, task);
  }
  return next ?? state;
}

/** A task snapshot carried by a `task.created` / `task.updated` event's data, if any. */
export function taskOf(data: unknown): Task | null {
  if (typeof data !== 'object' || data === null) return null;
  const { kind, task } = data as { kind?: unknown; task?: unknown };
  return (kind === 'task.created' || kind === 'task.updated') && typeof task === 'object' && task !== null
    ? (task as Task)
    : null;
}

/** The id of a `task.deleted` event's data, if it is one. */
function deletedOf(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const { kind, taskId } = data as { kind?: unknown; taskId?: unknown };
  return kind === 'task.deleted' && typeof taskId === 'string' ? taskId : null;
}

/** Follows `user:<owner>` for each owner: every task snapshot goes to `onChange`, and every deletion. */
function useOwnerFeeds(
  client: TaskwireClient,
  owners: readonly string[],
  onChange: (change: Change) => void,
  onResync: (channel: string) => void,
): void {
  const open = useRef(new Map<string, () => void>());
  const latest = useRef({ onChange, onResync });
  useEffect(() => {
    latest.current = { onChange, onResync };
  });
  const key = owners.join('\n');
  useEffect(() => {
    const wanted = new Set(key ? key.split('\n') : []);
    for (const [owner, close] of open.current) {
      if (!wanted.has(owner)) {
        close();
        open.current.delete(owner);
      }
    }
    for (const owner of wanted) {
      if (open.current.has(owner)) continue;
      const handle = client.channel(`user:${owner}`);
      const off = handle.subscribe((n) => {
        if (n.type === 'event') {
          const task = taskOf(n.event.data);
          const deleted = task ? null : deletedOf(n.event.data);
          if (task) latest.current.onChange([task]);
          else if (deleted !== null) latest.current.onChange({ deleted });
        } else if (n.type === 'resync') latest.current.onResync(handle.name);
      });
      open.current.set(owner, () => {
        off();
        handle.release();
      });
    }
  }, [client, key]);
  useEffect(() => {
    const feeds = open.current;
    return () => {
      for (const close of feeds.values()) close();
      feeds.clear();
    };
  }, [client]);
}

export function useTaskList(): TaskList {
  const { session, api, reportResync } = useDashboard();
  const client = useTaskwireClient();
  const feed = useTasks();
  const [tasks, add] = useReducer(merge, new Map<string, Task>());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [reloads, reload] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    if (!session.admin) return undefined;
    let stopped = false;
    const load = (): void => {
      api.listTasks({ limit: 200 }).then(
        ({ tasks: list }) => {
          if (stopped) return;
          add(list);
          setLoaded(true);
          setError(null);
        },
        (err: unknown) => {
          if (!stopped) setError(err instanceof Error ? err.message : String(err));
        },
      );
    };
    load();
    const timer = setInterval(load, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api, session.admin, reloads]);

  const owners = useMemo(
    () => (session.admin ? Array.from(new Set(Array.from(tasks.values(), (t) => t.owner))).sort() : []),
    [tasks, session.admin],
  );
  useOwnerFeeds(
    client,
    owners,
    (change) => add(change),
    (channel) => {
      reportResync(channel);
      reload();
    },
  );

  const list = useMemo(() => {
    if (!session.admin) return feed.tasks;
    return Array.from(merge(tasks, feed.tasks).values()).sort(byUpdated);
  }, [session.admin, tasks, feed.tasks]);

  if (!session.admin) {
    return { tasks: feed.tasks, loading: feed.state === 'subscribing', error: feed.error?.message ?? null };
  }
  // Once loaded, a failed re-read (the server restarting) is the connection indicator's news, not the list's.
  return { tasks: list, loading: !loaded && error === null, error: loaded ? null : error };
}
