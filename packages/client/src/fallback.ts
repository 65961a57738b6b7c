/**
 * The transport fallback policy, pure like machine.ts: `fallbackStep(state, input)`
 * returns the next state and effects; `connection.ts` runs them (the health probe,
 * the retry timer, switching the factory it opens next). No timers or I/O here.
 *
 * - The client tries its transports in the configured order (default `websocket`,
 *   `sse`, `longpoll`). An attempt that fails before `welcome` (never opened, closed
 *   with a code below 4000, or no welcome in time) asks for a health probe
 *   (`GET /healthz`), and counts as a failure of the transport only if plain HTTP
 *   works: a server that is down (or restarting) fails every transport, and switching
 *   then would be wrong. Failures while a probe is under way are not counted twice.
 * - After `failures` counted failures in a row, the next transport is used.
 * - A `welcome` resets the count (and voids a probe under way). While on a fallback the first transport is tried
 *   again after `retryMs` (or when the browser comes back online): one attempt; if it
 *   fails before `welcome`, the client goes straight back to the fallback it came from.
 * - Inputs carry the index of the transport the attempt used; a late result from a
 *   transport no longer in use is ignored.
 */
export type TransportName = 'websocket' | 'sse' | 'longpoll';

export interface FallbackState {
  /** Index, in the configured list, of the transport to open next. */
  readonly current: number;
  /** Consecutive attempts on `current` that failed before `welcome` while HTTP worked. */
  readonly failures: number;
  /** A health probe is under way. */
  readonly probing: boolean;
  /** While trying the first transport again: the fallback to return to if it fails. */
  readonly trialFrom: number | null;
}

export type FallbackInput =
  | { type: 'failed'; index: number }
  | { type: 'welcome'; index: number }
  | { type: 'probed'; ok: boolean }
  /** The retry timer fired, or the browser came back online. */
  | { type: 'retry-first' };

export type FallbackEffect =
  | { type: 'probe' }
  /** Open `index` next; `reconnect`: replace the transport now, even if it is up. */
  | { type: 'use'; index: number; reconnect: boolean }
  | { type: 'schedule-retry' }
  | { type: 'cancel-retry' };

export interface FallbackConfig {
  /** How many transports are configured. */
  readonly count: number;
  /** Consecutive failures before a switch. @default 3 */
  readonly failures: number;
}

export const FALLBACK_INITIAL: FallbackState = { current: 0, failures: 0, probing: false, trialFrom: null };

export function fallbackStep(
  s: FallbackState,
  input: FallbackInput,
  config: FallbackConfig,
): { state: FallbackState; effects: FallbackEffect[] } {
  const none = { state: s, effects: [] };
  switch (input.type) {
    case 'failed': {
      if (input.index !== s.current) return none;
      if (s.trialFrom !== null) {
        const back = s.trialFrom;
        return {
          state: { ...FALLBACK_INITIAL, current: back },
          effects: [{ type: 'use', index: back, reconnect: false }, { type: 'schedule-retry' }],
        };
      }
      if (s.probing || s.current >= config.count - 1) return none;
      return { state: { ...s, probing: true }, effects: [{ type: 'probe' }] };
    }
    case 'probed': {
      if (!s.probing) return none;
      const failures = s.failures + (input.ok ? 1 : 0);
      if (failures < config.failures) return { state: { ...s, probing: false, failures }, effects: [] };
      const next = s.current + 1;
      return {
        state: { ...FALLBACK_INITIAL, current: next },
        effects: [
          { type: 'use', index: next, reconnect: false },
          ...(s.current === 0 ? [{ type: 'schedule-retry' } as const] : []),
        ],
      };
    }
    case 'welcome':
      if (input.index !== s.current) return none;
      return {
        state: { ...s, failures: 0, probing: false, trialFrom: null },
        effects: s.trialFrom !== null ? [{ type: 'cancel-retry' }] : [],
      };
    case 'retry-first':
      if (s.current === 0 || s.trialFrom !== null) return none;
      return {
        state: { current: 0, failures: 0, probing: false, trialFrom: s.current },
        effects: [{ type: 'use', index: 0, reconnect: true }],
      };
  }
}
