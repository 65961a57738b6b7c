/**
 * The messages the tabs of one group exchange over their BroadcastChannel, and the
 * group's name. A group is one user (`sub`) on one server URL: the BroadcastChannel
 * and the Web Locks are named after both, so tabs of another user, or of another
 * server, never hear each other.
 *
 * Every message carries `v` (this protocol's version) and `from` (the sender's tab
 * id). The leader's also carry its `term`: a newer term wins, and a message from a
 * leader that is not the one a tab follows is ignored (a leader that was frozen and
 * woke up after another took over). Errors cross as `{code, message}`, since an
 * Error does not survive structured cloning with its fields.
 */
import type { EventFrame, Position, Task, UnsubscribedFrame, WelcomeFrame } from '@taskwire/protocol';
import type { ClientErrorCode } from '../errors.js';
import type { TransportName } from '../fallback.js';
import type { ConnectionState } from '../machine.js';

export const VERSION = 1;

export type TabId = string;

export interface WireError {
  code: ClientErrorCode;
  message: string;
}

export type WireOutcome = { ok: true; result: unknown } | { ok: false; error: WireError };

/** What a follower asks the leader to do on the one connection. */
export type TabRequestFrame =
  | { op: 'subscribe'; channel: string; since?: Position; history?: number }
  | { op: 'unsubscribe'; channel: string }
  | { op: 'publish'; channel: string; data: unknown; idempotencyKey?: string }
  | { op: 'stream'; task: string; stream?: string };

/** Leader → every tab. */
export type LeaderMessage =
  /** I hold the lock now: follow me (and resubscribe through me). */
  | { t: 'hello' }
  /** My connection's state; `welcome` while connected. */
  | {
      t: 'state';
      state: ConnectionState;
      code: number;
      reason: string;
      transport: TransportName;
      welcome?: WelcomeFrame;
    }
  | { t: 'reply'; to: TabId; id: number; outcome: WireOutcome }
  /** A server frame for the tabs: events go to all, `unsubscribed` to the tabs named. */
  | { t: 'frame'; frame: EventFrame | UnsubscribedFrame; tabs?: TabId[] }
  | { t: 'pong' }
  /** My own getToken() failed or is missing: does a tab have a token for our user? */
  | { t: 'token?'; id: number }
  | { t: 'error'; error: WireError }
  | { t: 'retry'; attempt: number; delayMs: number; at: number };

/** Follower → the leader (`to`), or to whoever leads (`hi`, `bye`). */
export type FollowerMessage =
  /** I joined (or woke up): tell me your state. */
  | { t: 'hi' }
  | { t: 'req'; to: TabId; id: number; frame: TabRequestFrame; snapshot?: Task | null }
  | { t: 'ping'; to: TabId }
  /** This tab's app called connect(): reconnect if you are `unauthorized` or `closed`. */
  | { t: 'connect'; to: TabId }
  | { t: 'token'; to: TabId; id: number; token: string }
  /** I am leaving the group (closed, frozen or disconnected): drop my subscriptions. */
  | { t: 'bye' };

export type Envelope<M> = M & { v: typeof VERSION; from: TabId; term?: number };

const LEADER: ReadonlySet<string> = new Set(['hello', 'state', 'reply', 'frame', 'pong', 'token?', 'error', 'retry']);
const FOLLOWER: ReadonlySet<string> = new Set(['hi', 'req', 'ping', 'connect', 'token', 'bye']);

/**
 * Accepts what a tab of this protocol version sent, else undefined. A leader's
 * message needs a numeric `term`. The payload is trusted beyond that: only this
 * origin's scripts can post on the channel.
 */
export function parseMessage(
  data: unknown,
):
  | { kind: 'leader'; msg: Envelope<LeaderMessage> & { term: number } }
  | { kind: 'follower'; msg: Envelope<FollowerMessage> }
  | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as { v?: unknown; t?: unknown; from?: unknown; term?: unknown };
  if (m.v !== VERSION || typeof m.t !== 'string' || typeof m.from !== 'string' || m.from === '') return undefined;
  if (LEADER.has(m.t)) {
    return typeof m.term === 'number' && Number.isFinite(m.term)
      ? { kind: 'leader', msg: data as Envelope<LeaderMessage> & { term: number } }
      : undefined;
  }
  return FOLLOWER.has(m.t) ? { kind: 'follower', msg: data as Envelope<FollowerMessage> } : undefined;
}

/** The BroadcastChannel's name and the leader lock's: one user on one server. */
export function groupName(url: string, sub: string): string {
  return `taskwire/v${VERSION} ${JSON.stringify([url, sub])}`;
}

/** The lock each tab holds while it is in the group: the leader drops the tabs whose lock is gone. */
export function tabLockName(group: string, tab: TabId): string {
  return `${group} tab ${tab}`;
}

/** The tab ids whose tab lock (held or still pending) appears in a LockManager snapshot. */
export function tabsAlive(group: string, names: readonly (string | undefined)[]): Set<TabId> {
  const prefix = `${group} tab `;
  const alive = new Set<TabId>();
  for (const name of names) if (name?.startsWith(prefix)) alive.add(name.slice(prefix.length));
  return alive;
}
