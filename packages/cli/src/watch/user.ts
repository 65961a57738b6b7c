/**
 * `taskwire watch user:<id>`: a bar per active task of the user, live from the
 * user channel, seeded by listing the user's unfinished tasks over HTTP once
 * subscribed (so nothing between the list and the subscription is missed). Runs
 * until Ctrl-C; with `untilIdle`, ends when no task is queued, running or awaiting
 * approval: 0 if none of the tasks seen failed or was cancelled, else 1.
 */
import { isSnapshotEvent, isTaskEventData, type Task, type TaskStatus } from '@taskwire/protocol';
import { ApiFailure, EXIT, refusalCode, type Session } from './session.js';

const ACTIVE: readonly TaskStatus[] = ['queued', 'running', 'awaiting_approval'];
/** Listed at the start (stalled ones are shown, but do not keep `--until-idle` waiting). */
const LISTED: readonly TaskStatus[] = [...ACTIVE, 'stalled'];
const LIST_LIMIT = 100;

export function watchUser(session: Session, user: string, opts: { untilIdle: boolean }): Promise<number> {
  const { client, renderer } = session;
  const tasks = new Map<string, Task>();
  let loaded = false;
  let loads = 0;

  const put = (task: Task): void => {
    const held = tasks.get(task.id);
    if (held && held.version >= task.version) return;
    tasks.set(task.id, task);
    renderer.update(task);
  };

  const checkIdle = (): void => {
    if (!opts.untilIdle || !loaded || session.ended) return;
    const all = [...tasks.values()];
    if (all.some((t) => ACTIVE.includes(t.status))) return;
    session.finish(all.some((t) => t.status === 'failed' || t.status === 'cancelled') ? EXIT.failed : EXIT.ok);
  };

  /** The user's unfinished tasks, and a fresh read of any held task that left that list (after a resync). */
  const load = async (): Promise<void> => {
    const run = ++loads;
    const owner = encodeURIComponent(user);
    const pages = await Promise.all(
      LISTED.map((status) =>
        session.get<{ tasks: Task[] }>(`/tasks?owner=${owner}&status=${status}&limit=${LIST_LIMIT}`),
      ),
    );
    const listed = new Set<string>();
    for (const page of pages) for (const task of page.tasks) listed.add(task.id);
    const stale = [...tasks.values()].filter((t) => ACTIVE.includes(t.status) && !listed.has(t.id));
    const fresh = await Promise.all(stale.map((t) => session.get<Task>(`/tasks/${encodeURIComponent(t.id)}`)));
    if (run !== loads || session.ended) return;
    // Oldest first, so bars appear in creation order.
    const found = [...pages.flatMap((p) => p.tasks), ...fresh].sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
    for (const task of found) put(task);
    loaded = true;
    checkIdle();
  };

  const reload = (): void => {
    load().catch((err: unknown) => {
      if (err instanceof ApiFailure) session.finish(refusalCode(err.code), `error ${err.code}: ${err.message}`);
      else session.finish(EXIT.failed, `error: ${err instanceof Error ? err.message : String(err)}`);
    });
  };

  const channel = client.channel(`user:${user}`);
  session.onEnd(() => channel.release());
  channel.subscribe((n) => {
    if (session.ended) return;
    if (n.type === 'event') {
      const data = n.event.data;
      if (isTaskEventData(data) && isSnapshotEvent(data)) {
        put(data.task);
        checkIdle();
      }
    } else if (n.type === 'state') {
      if (n.state === 'subscribed' && !loaded && loads === 0) reload();
      if (n.state === 'unsubscribed' && n.error)
        session.finish(refusalCode(n.error.code), `error ${n.error.code}: ${n.error.message}`);
    } else if (n.type === 'resync') {
      reload(); // events in between were lost: read the list again
    }
  });
  client.connect();
  return session.done;
}
