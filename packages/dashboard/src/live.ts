/**
 * The dashboard's client: one connection for the page, with a WebSocket wrapper
 * that records when each attempt starts and ends, and the client's `retry` event
 * giving the exact time of the next attempt, so the connection indicator can say
 * "next attempt in N s". Before the first `retry` event of a wait, it falls back to
 * the end of the client's backoff window (`backoffCeiling`).
 */
import { backoffCeiling, createClient, STABLE_AFTER_MS, wantsLongBackoff, type TaskwireClient } from '@taskwire/client';
import type { Session } from './session.js';

export const BACKOFF = { minMs: 500, maxMs: 10_000, longMinMs: 5_000 } as const;

export interface AttemptState {
  /** Sockets that closed since the last successful open. */
  failures: number;
  /** A socket is being opened right now. */
  opening: boolean;
  /** When the last socket closed (ms), and with which code. */
  closedAt: number | null;
  closeCode: number | null;
  /** The code and reason of the client's last state change that had one (a close, a local code). */
  lastChange: { code: number; reason: string } | null;
  /** When the client said the next attempt starts (its `retry` event), or null. */
  retryAt: number | null;
}

export interface AttemptTracker {
  /** Store functions (useSyncExternalStore): safe to pass around unbound. */
  get: () => AttemptState;
  subscribe: (listener: () => void) => () => void;
  /** When the next attempt starts (exact once the client said so), or null when none is due. */
  nextAttemptBy(): number | null;
  noteChange(code: number, reason: string): void;
  noteRetry(at: number): void;
}

export function createAttemptTracker(): AttemptTracker & { WebSocket: typeof WebSocket } {
  let state: AttemptState = {
    failures: 0,
    opening: false,
    closedAt: null,
    closeCode: null,
    lastChange: null,
    retryAt: null,
  };
  const listeners = new Set<() => void>();
  const set = (patch: Partial<AttemptState>): void => {
    state = { ...state, ...patch };
    for (const l of Array.from(listeners)) l();
  };
  class TrackedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      set({ opening: true, retryAt: null });
      let openedAt = 0;
      this.addEventListener('open', () => (openedAt = Date.now()));
      this.addEventListener('close', (ev) => {
        const now = Date.now();
        const stable = openedAt > 0 && now - openedAt >= STABLE_AFTER_MS;
        set({ opening: false, failures: stable ? 1 : state.failures + 1, closedAt: now, closeCode: ev.code });
      });
    }
  }
  return {
    WebSocket: TrackedWebSocket,
    get: () => state,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    nextAttemptBy() {
      if (state.opening || state.closedAt === null) return null;
      if (state.retryAt !== null) return state.retryAt;
      return state.closedAt + backoffCeiling(state.failures, wantsLongBackoff(state.closeCode ?? 0), BACKOFF);
    },
    noteChange: (code, reason) => set({ lastChange: { code, reason } }),
    noteRetry: (at) => set({ retryAt: at }),
  };
}

export interface Live {
  client: TaskwireClient;
  attempts: AttemptTracker;
}

/**
 * A client for this session. `renew` gives a fresh token after a 4001 (the dev
 * token is fetched again; a pasted one cannot be renewed, so it is returned as is
 * and the server's refusal ends in `unauthorized`).
 */
export function createLive(wsUrl: string, session: Session, renew: () => Promise<string>): Live {
  const attempts = createAttemptTracker();
  const client = createClient({
    url: wsUrl,
    token: session.token,
    getToken: renew,
    WebSocket: attempts.WebSocket,
    backoff: BACKOFF,
  });
  client.on('state', (e) => {
    if (e.code !== 0) attempts.noteChange(e.code, e.reason);
  });
  client.on('retry', (e) => attempts.noteRetry(e.at));
  return { client, attempts };
}
