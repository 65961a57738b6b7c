/**
 * The hooks: each a thin useSyncExternalStore over the client (see store.ts).
 * Snapshots are plain objects whose identity changes only when a field does.
 */
import { useCallback, useLayoutEffect, useRef, useSyncExternalStore } from 'react';
import type { ConnectionState, EventFrame, SubscriptionState, Task, TaskwireClientError } from '@taskwire/client';
import { openFeed } from './feed.js';
import { withInitial } from './initial.js';
import { useTaskwireClient } from './provider.js';
import { useHandleStore } from './store.js';
import { openStream } from './stream.js';

interface Subscribed {
  /** `subscribing` until the server answers; `unsubscribed` with `error` if it refused (not_found, forbidden). */
  state: SubscriptionState;
  error: TaskwireClientError | null;
}

export interface TaskState extends Subscribed {
  /** undefined while loading, null while the task does not exist yet. */
  task: Task | null | undefined;
}

export interface TasksState extends Subscribed {
  /** The user's tasks, newest update first. */
  tasks: readonly Task[];
}

export interface TaskStreamState extends Subscribed {
  /** Every chunk of the stream so far, in order ('' while loading). */
  text: string;
  chunks: number;
  /** The task has ended and the stream is complete. */
  done: boolean;
}

export interface ChannelState extends Subscribed {
  /** The last event this hook received (undefined before the first). */
  last: EventFrame | undefined;
}

const NO_TASKS: readonly Task[] = [];
const subState = (
  h: { state: SubscriptionState; error: TaskwireClientError | null } | undefined,
  wanted: boolean,
): Subscribed => ({
  state: h ? h.state : wanted ? 'subscribing' : 'unsubscribed',
  error: h ? h.error : null,
});

export interface TaskOptions {
  /**
   * The snapshot to show until the live one arrives (one the server fetched for the
   * first paint), instead of `undefined`. Read when the hook mounts or its `id`
   * changes, like useState's initial value. The live snapshot replaces it unless it
   * is older (`version`); `null` (not created yet) never hides it.
   */
  initial?: Task | null;
}

/** One task, live. Components using the same id share one server subscription. No id: nothing is subscribed. */
export function useTask(id: string | null | undefined, options?: TaskOptions): TaskState {
  const client = useTaskwireClient();
  const initial = options?.initial;
  return useHandleStore(
    () => (id ? client.task(id) : undefined),
    (h) => ({ task: withInitial(id, h?.snapshot, initial), ...subState(h, !!id) }),
    [client, id],
  );
}

/**
 * One of a task's streams (protocol 1.1), whole and live: the text from its first
 * chunk, whenever the component mounts, with no chunk lost or doubled across
 * reconnects. Components on the same task share one server subscription.
 */
export function useTaskStream(id: string | null | undefined, name = 'output'): TaskStreamState {
  const client = useTaskwireClient();
  return useHandleStore(
    () => (id ? openStream(client, id, name) : undefined),
    (h) => {
      const s = h?.stream.getSnapshot();
      return { text: s?.text ?? '', chunks: s?.chunks ?? 0, done: s?.done ?? false, ...subState(h?.task, !!id) };
    },
    [client, id, name],
  );
}

/** The signed-in user's feed (`user:<sub>`): their tasks, newest update first. All callers share one list. */
export function useTasks(): TasksState {
  const client = useTaskwireClient();
  return useHandleStore(
    () => openFeed(client),
    (f) => ({ tasks: f?.handle.getSnapshot() ?? NO_TASKS, ...subState(f?.handle, true) }),
    [client],
  );
}

/** A channel: its last event, and `onEvent` for every event in order (the latest callback is used). */
export function useChannel(name: string, onEvent?: (event: EventFrame) => void): ChannelState {
  const client = useTaskwireClient();
  const latest = useRef(onEvent);
  useLayoutEffect(() => {
    latest.current = onEvent;
  });
  return useHandleStore(
    () => client.channel(name),
    (h) => ({ last: h?.getSnapshot(), ...subState(h, true) }),
    [client, name],
    (n) => {
      if (n.type === 'event') latest.current?.(n.event);
    },
  );
}

/** The connection state: `disconnected` · `connecting` · `connected` · `unauthorized` · `closed`. */
export function useConnectionState(): ConnectionState {
  const client = useTaskwireClient();
  const subscribe = useCallback((onChange: () => void) => client.subscribe(onChange), [client]);
  return useSyncExternalStore(subscribe, client.getSnapshot, client.getSnapshot);
}
