/**
 * The states of one client connection and the only transitions between them.
 *
 *   authenticating ──▶ open ──▶ closing ──▶ closed
 *         │              │                    ▲
 *         └──────────────┴────────────────────┘  (the socket went away)
 *
 * - `authenticating`: the handshake is done; waiting for a valid token (first
 *   `auth` frame, `?token=` or `?ticket=`). Only `error` frames may be sent.
 * - `open`: authenticated; every op is served and events are delivered.
 * - `closing`: the server sent its close frame; nothing more is sent; waiting for
 *   the socket to close (a short grace, then it is terminated).
 * - `closed`: the socket is gone. Final.
 *
 * Leaving `authenticating` or `open` for `closing` or `closed` is the one moment
 * the connection's resources are released (see `releasesResources`), so cleanup
 * runs exactly once however the connection ends.
 */
export type ConnectionState = 'authenticating' | 'open' | 'closing' | 'closed';

const ALLOWED: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  authenticating: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/** The next state, or null when `to` is not reachable from `from` (the request is then ignored). */
export function transition(from: ConnectionState, to: ConnectionState): ConnectionState | null {
  return ALLOWED[from].includes(to) ? to : null;
}

/** True while the socket is open and frames may be sent. */
export function canSend(state: ConnectionState): boolean {
  return state === 'authenticating' || state === 'open';
}

/** True for the transition that must release the connection's subscriptions, slots and timers. */
export function releasesResources(from: ConnectionState, to: ConnectionState): boolean {
  return canSend(from) && !canSend(to);
}
