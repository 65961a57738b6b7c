/**
 * A tab's role in its group, as a pure transition table: `elect(state, input)`
 * returns the next state and the effects for the link (./link.ts) to run. No
 * locks, channels or timers here, so every role × input pair is a unit test.
 *
 * | role        | public state           | what the tab does                                        |
 * |-------------|------------------------|----------------------------------------------------------|
 * | `idle`      | `disconnected`         | nothing, until `connect()`                               |
 * | `resolving` | `connecting`           | gets its token, to learn the user (`sub`) and its group  |
 * | `solo`      | its own connection's   | no sharing (APIs missing, no `sub`): a socket of its own |
 * | `follower`  | the leader's           | waits for the leader lock; talks to the leader           |
 * | `leader`    | its own connection's   | holds the lock and the one socket, serves the others     |
 * | `paused`    | `connecting`           | frozen or in the back/forward cache: out of the group    |
 *
 * Election: the Web Lock named after the group is the leadership; the holder
 * announces itself with `hello` and a term newer than any it has seen. A leader
 * that closes releases the lock with its document and the next tab waiting gets
 * it. One that freezes announces nothing: its followers, hearing nothing for a
 * while (`silent`), steal the lock; the old leader learns it (`lost`, or a `hello`
 * from a newer term) and becomes a follower again.
 */

export type Role = 'idle' | 'resolving' | 'solo' | 'follower' | 'leader' | 'paused';

export interface LeaderRef {
  readonly id: string;
  readonly term: number;
}

export interface RoleState {
  readonly role: Role;
  /** The group (user on a server) this tab is in; null when it cannot share. */
  readonly group: string | null;
  /** The leader a follower listens to; null before it has heard one. */
  readonly leader: LeaderRef | null;
  /** The newest term heard, or this tab's own while it leads. */
  readonly term: number;
}

export type ElectionInput =
  | { type: 'connect' }
  | { type: 'disconnect' }
  /** The token was read: the group to join, or null to go solo. */
  | { type: 'resolved'; group: string | null }
  /** The leader lock was granted; `now` is the clock, for a term newer than every one before. */
  | { type: 'granted'; now: number }
  /** The lock was taken from this leader (stolen). */
  | { type: 'lost' }
  /** Another tab leads (its `hello`, or any message of a newer term). */
  | { type: 'leader'; id: string; term: number }
  /** The followed leader said it is leaving. */
  | { type: 'bye'; id: string }
  /** No leader heard for too long: it is frozen or gone without a word. */
  | { type: 'silent' }
  | { type: 'freeze' }
  | { type: 'resume' };

export type ElectionEffect =
  | { type: 'resolve' }
  | { type: 'solo'; start: boolean }
  /** Open the channel, take the tab lock, queue for the leader lock, say `hi`. */
  | { type: 'join'; group: string }
  /** Say `bye`, close the channel, give up both locks. */
  | { type: 'leave' }
  /** Start serving: the connection, `hello` with this term. */
  | { type: 'lead'; term: number }
  /** Stop serving and release the leader lock. */
  | { type: 'unlead' }
  /** Queue for the leader lock again. */
  | { type: 'queue' }
  | { type: 'steal' }
  /** Forget the previous leader's requests; follow this one (null: none yet). */
  | { type: 'follow'; leader: LeaderRef | null };

export interface ElectionStep {
  readonly state: RoleState;
  readonly effects: readonly ElectionEffect[];
}

export const IDLE: RoleState = { role: 'idle', group: null, leader: null, term: 0 };

const same = (state: RoleState): ElectionStep => ({ state, effects: [] });

function leave(s: RoleState, role: 'idle' | 'paused'): ElectionStep {
  const effects: ElectionEffect[] = s.role === 'leader' ? [{ type: 'unlead' }, { type: 'leave' }] : [{ type: 'leave' }];
  return { state: { ...s, role, leader: null }, effects };
}

/** The transition table. Inputs not listed for a role are ignored. */
export function elect(s: RoleState, input: ElectionInput): ElectionStep {
  switch (s.role) {
    case 'idle':
      return input.type === 'connect'
        ? { state: { ...s, role: 'resolving' }, effects: [{ type: 'resolve' }] }
        : same(s);

    case 'paused':
      if (input.type === 'resume' || input.type === 'connect') {
        return { state: { ...s, role: 'resolving' }, effects: [{ type: 'resolve' }] };
      }
      return input.type === 'disconnect' ? same({ ...s, role: 'idle' }) : same(s);

    case 'resolving':
      if (input.type === 'disconnect') return same({ ...s, role: 'idle' });
      if (input.type === 'freeze') return same({ ...s, role: 'paused' });
      if (input.type !== 'resolved') return same(s);
      if (input.group === null)
        return { state: { ...s, role: 'solo', group: null }, effects: [{ type: 'solo', start: true }] };
      return {
        state: { ...s, role: 'follower', group: input.group, leader: null },
        effects: [
          { type: 'join', group: input.group },
          { type: 'follow', leader: null },
        ],
      };

    case 'solo':
      return input.type === 'disconnect'
        ? { state: { ...s, role: 'idle' }, effects: [{ type: 'solo', start: false }] }
        : same(s);

    case 'follower':
      switch (input.type) {
        case 'granted': {
          const term = Math.max(s.term + 1, input.now);
          return { state: { ...s, role: 'leader', leader: null, term }, effects: [{ type: 'lead', term }] };
        }
        case 'leader': {
          if (input.term < s.term || (s.leader?.id === input.id && s.leader.term === input.term)) return same(s);
          const leader = { id: input.id, term: input.term };
          return { state: { ...s, leader, term: input.term }, effects: [{ type: 'follow', leader }] };
        }
        case 'bye':
          return s.leader?.id === input.id
            ? { state: { ...s, leader: null }, effects: [{ type: 'follow', leader: null }] }
            : same(s);
        case 'silent':
          return { state: s, effects: [{ type: 'steal' }] };
        case 'disconnect':
          return leave(s, 'idle');
        case 'freeze':
          return leave(s, 'paused');
        default:
          return same(s);
      }

    case 'leader':
      switch (input.type) {
        case 'lost':
          return {
            state: { ...s, role: 'follower', leader: null },
            effects: [{ type: 'unlead' }, { type: 'queue' }, { type: 'follow', leader: null }],
          };
        case 'leader': {
          // Only the lock holder says hello: a newer one means the lock was taken from us.
          if (input.term <= s.term) return same(s);
          const leader = { id: input.id, term: input.term };
          return {
            state: { ...s, role: 'follower', leader, term: input.term },
            effects: [{ type: 'unlead' }, { type: 'queue' }, { type: 'follow', leader }],
          };
        }
        case 'disconnect':
          return leave(s, 'idle');
        case 'freeze':
          return leave(s, 'paused');
        default:
          return same(s);
      }
  }
}
