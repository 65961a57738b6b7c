/**
 * `useTask(id, { initial })`: a snapshot the app already has (read on the server
 * for the first paint, from a list it fetched) stands in until the live one
 * arrives, so nothing flashes "loading". The version rule decides between them:
 * the live snapshot replaces the initial one unless it is older, and `null` (not
 * created yet) never hides a task.
 */
import type { Task } from '@taskwire/client';

export function withInitial(
  id: string | null | undefined,
  live: Task | null | undefined,
  initial: Task | null | undefined,
): Task | null | undefined {
  // An initial snapshot of another task (a stale prop after an id change) is ignored.
  if (initial === undefined || (initial !== null && initial.id !== id)) return live;
  if (live === undefined) return initial;
  if (live === null || initial === null) return live ?? initial;
  return initial.version > live.version ? initial : live;
}
