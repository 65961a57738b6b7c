import type { Task } from '@taskwire/protocol';

/**
 * The version rule (docs/protocol.md §2): a task snapshot replaces the held one only when
 * its `version` is newer, so a late, repeated or replayed event never moves a task
 * backwards.
 */
export function isNewer(next: Task, held: Task | null | undefined): boolean {
  return held === null || held === undefined || next.version > held.version;
}
