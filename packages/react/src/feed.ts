/**
 * One feed handle per client, shared by every useTasks(). A TasksHandle builds its
 * map from the events it sees, and only the channel's first subscribe loads history,
 * so a second handle opened later would start empty: sharing one (ref-counted)
 * handle gives a component mounted later the same list as the others.
 */
import type { TaskwireClient, TasksHandle, TasksNotice } from '@taskwire/client';

export interface SharedFeed {
  readonly handle: TasksHandle;
  subscribe: (listener: (notice: TasksNotice) => void) => () => void;
  release: () => void;
}

const feeds = new WeakMap<TaskwireClient, { handle: TasksHandle; refs: number }>();

export function openFeed(client: TaskwireClient): SharedFeed {
  const entry = feeds.get(client) ?? { handle: client.tasks(), refs: 0 };
  feeds.set(client, entry);
  entry.refs += 1;
  let released = false;
  return {
    handle: entry.handle,
    subscribe: (listener) => entry.handle.subscribe(listener),
    release: () => {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      feeds.delete(client);
      entry.handle.release();
    },
  };
}
