/**
 * Channel permissions (docs/protocol.md §3), shared by the WebSocket `subscribe`/`publish`
 * ops and the HTTP channel routes.
 *
 * Subscribe (and read history):
 * - An invalid channel name → `bad_request`.
 * - An admin token or the API key may subscribe to any channel; for `task:`
 *   channels they get the snapshot (null when the task does not exist).
 * - `user:<sub>` (the caller's own user channel) → allowed. `user:<other>` →
 *   `forbidden`, unless one of the token's `channels` patterns matches it.
 * - `task:<id>` → allowed, with the snapshot, when the task's owner is `sub`.
 *   When a `channels` pattern matches it explicitly → allowed, with the snapshot
 *   (null when the task does not exist yet). Otherwise a task that does not exist
 *   and a task of another user both answer `not_found`, alike, so that a user
 *   cannot probe other users' task ids.
 * - `room:<name>` → allowed only when a `channels` pattern matches, else `forbidden`.
 *
 * Publish:
 * - Never on `task:` channels, for anyone: task events come only from the task
 *   API (`forbidden`).
 * - The API key and admin tokens may publish to any `user:` and `room:` channel.
 * - Any other token only where one of its `publish` patterns matches, else
 *   `forbidden`.
 */
import { TaskwireError, matchesAny, parseChannel, type Task } from '@taskwire/protocol';
import type { Principal } from './types.js';

export type SubscribeDecision = { ok: true; snapshot?: Task | null } | { ok: false; error: TaskwireError };

export async function authorizeSubscribe(
  p: Principal,
  channel: string,
  getTask: (id: string) => Promise<Task | null>,
): Promise<SubscribeDecision> {
  const parsed = parseChannel(channel);
  if (!parsed) return deny('bad_request', `invalid channel name ${JSON.stringify(String(channel).slice(0, 150))}`);
  const privileged = p.admin || p.apiKey;
  const granted = matchesAny(p.channels, channel);
  switch (parsed.kind) {
    case 'task': {
      const task = await getTask(parsed.id);
      if (privileged || granted) return { ok: true, snapshot: task };
      if (task !== null && task.owner === p.sub) return { ok: true, snapshot: task };
      return deny('not_found', `task ${parsed.id} not found`);
    }
    case 'user':
      if (privileged || granted || parsed.id === p.sub) return { ok: true };
      return deny('forbidden', `${channel} is not yours`);
    case 'room':
      if (privileged || granted) return { ok: true };
      return deny('forbidden', `${channel} is not granted by your token`);
  }
}

export function authorizePublish(p: Principal, channel: string): TaskwireError | null {
  const parsed = parseChannel(channel);
  if (!parsed)
    return new TaskwireError('bad_request', `invalid channel name ${JSON.stringify(String(channel).slice(0, 150))}`);
  if (parsed.kind === 'task') {
    return new TaskwireError(
      'forbidden',
      'task channels are published only by the task API (POST/PATCH /api/v1/tasks)',
    );
  }
  if (p.apiKey || p.admin) return null;
  if (matchesAny(p.publish, channel)) return null;
  return new TaskwireError('forbidden', `publishing to ${channel} is not granted by your token`);
}

function deny(code: 'bad_request' | 'forbidden' | 'not_found', message: string): { ok: false; error: TaskwireError } {
  return { ok: false, error: new TaskwireError(code, message) };
}
