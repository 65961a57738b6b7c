/**
 * The connection state machine as a pure transition table: `transition(state,
 * input)` returns the next state and a list of effects for `connection.ts` to run.
 * No timers, sockets or randomness here, so every state × input pair is a unit test.
 *
 * Public states (what `client.state` shows) and the internal phases behind them:
 *
 * | phase          | public state   | waiting for                                   |
 * |----------------|----------------|-----------------------------------------------|
 * | `idle`         | `disconnected` | `connect()`                                   |
 * | `opening`      | `connecting`   | the socket to open and the `welcome` frame    |
 * | `renewing`     | `connecting`   | the user's `getToken()` after a 4001          |
 * | `waiting`      | `connecting`   | the backoff timer (or the tab coming back)    |
 * | `connected`    | `connected`    | anything                                      |
 * | `unauthorized` | `unauthorized` | an explicit `connect()`                       |
 * | `closed`       | `closed`       | an explicit `connect()`                       |
 */
import { CloseCode, isRetryable, isTerminal, wantsLongBackoff } from '@taskwire/protocol';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'unauthorized' | 'closed';
export type Phase = 'idle' | 'opening' | 'renewing' | 'waiting' | 'connected' | 'unauthorized' | 'closed';

export const PHASES: readonly Phase[] = [
  'idle',
  'opening',
  'renewing',
  'waiting',
  'connected',
  'unauthorized',
  'closed',
];

export const PUBLIC_STATE: Readonly<Record<Phase, ConnectionState>> = {
  idle: 'disconnected',
  opening: 'connecting',
  renewing: 'connecting',
  waiting: 'connecting',
  connected: 'connected',
  unauthorized: 'unauthorized',
  closed: 'closed',
};

/** Close codes the client itself uses (3000-3999 is the range for libraries). */
export const LocalCode = {
  /** `disconnect()` was called. */
  Disconnect: CloseCode.Normal,
  /** The transport could not even be created (bad URL, missing WebSocket). */
  TransportError: 3002,
  /** The browser reported `offline`. */
  Offline: 3006,
  /** No `welcome` in time, or a request got no reply in time. */
  Timeout: 3007,
  /** Nothing heard for 2 × heartbeatMs. */
  NoHeartbeat: 3008,
  /** The fallback policy tries the preferred transport again (see fallback.ts). */
  SwitchTransport: 3009,
  /** getToken() failed or returned nothing. */
  TokenFailed: 3401,
} as const;

/** The first of the client's own close codes: 3000-3999, the range RFC 6455 leaves to libraries. */
const LOCAL_CODES_FROM = 3000;

/**
 * The first close code of the server's own range (4000-4999, protocol.md): an attempt
 * closed with one of these reached the server, so its transport works.
 */
export const SERVER_CODES_FROM = 4000;

/**
 * 1005, "no status received" (RFC 6455 §7.4.1): reserved, never sent in a close frame,
 * so not one of the protocol's `CloseCode`s; it is what a peer that vanished mid-close
 * looks like.
 */
const NO_STATUS = 1005;

/** A close the client retries though the protocol does not list it: no status, or one of its own codes. */
function retriedLocally(code: number): boolean {
  return code === NO_STATUS || (code >= LOCAL_CODES_FROM && code < SERVER_CODES_FROM);
}

export interface MachineState {
  readonly phase: Phase;
  /** Consecutive failed attempts since the last stable connection (the backoff step). */
  readonly attempt: number;
  /** getToken() calls after a 4001 since the last `welcome`: a second 4001 means give up. */
  readonly renewals: number;
  /** The "retry at once, once" allowance for a tab that comes back online or visible. */
  readonly quickRetry: 'available' | 'used';
}

export type Input =
  | { type: 'connect' }
  | { type: 'disconnect' }
  | { type: 'open' }
  | { type: 'welcome'; heartbeatMs: number }
  | { type: 'close'; code: number; reason: string }
  /** The transport failed without a close (its constructor threw). */
  | { type: 'error'; reason: string }
  /** The backoff timer fired. */
  | { type: 'timer' }
  /** The connection has been up for STABLE_AFTER_MS. */
  | { type: 'stable' }
  /** Nothing heard in time: no welcome, no reply, no frame for 2 × heartbeatMs. */
  | { type: 'stale'; code: number; reason: string }
  | { type: 'token'; ok: boolean }
  | { type: 'online' }
  | { type: 'offline' }
  | { type: 'visible' };

export type InputType = Input['type'];
export const INPUT_TYPES: readonly InputType[] = [
  'connect',
  'disconnect',
  'open',
  'welcome',
  'close',
  'error',
  'timer',
  'stable',
  'stale',
  'token',
  'online',
  'offline',
  'visible',
];

export type Effect =
  | { type: 'state'; oldState: ConnectionState; newState: ConnectionState; code: number; reason: string }
  /** Get a token (the cached one, or getToken()) and open a transport. */
  | { type: 'open-socket' }
  | { type: 'send-auth' }
  | { type: 'close-socket'; code: number; reason: string }
  | { type: 'schedule-retry'; attempt: number; long: boolean }
  | { type: 'cancel-retry' }
  /** Drop the cached token and call getToken() once; the result comes back as a `token` input. */
  | { type: 'renew-token' }
  /** Start liveness (pings, the 2 × heartbeat watchdog), the stable timer and proactive token refresh. */
  | { type: 'start-session'; heartbeatMs: number }
  | { type: 'resubscribe' }
  /** Forget the transport and its timers, and fail pending requests: no further traffic. */
  | { type: 'stop' };

export interface Transition {
  readonly state: MachineState;
  readonly effects: readonly Effect[];
}

export const INITIAL: MachineState = { phase: 'idle', attempt: 0, renewals: 0, quickRetry: 'available' };

const same = (state: MachineState): Transition => ({ state, effects: [] });

/** Move to `phase`, emitting a `state` effect when the public state changes. */
function go(
  from: MachineState,
  patch: Partial<MachineState> & { phase: Phase },
  effects: Effect[],
  code = 0,
  reason = '',
): Transition {
  const state: MachineState = { ...from, ...patch };
  const oldState = PUBLIC_STATE[from.phase];
  const newState = PUBLIC_STATE[state.phase];
  const all =
    oldState === newState ? effects : [{ type: 'state', oldState, newState, code, reason } as const, ...effects];
  return { state, effects: all };
}

/** A close (or a local equivalent) while opening or connected: decide by the code's range. */
function onLost(s: MachineState, code: number, reason: string, closeSocket: boolean): Transition {
  const drop: Effect[] = closeSocket ? [{ type: 'close-socket', code, reason }, { type: 'stop' }] : [{ type: 'stop' }];
  if (code === CloseCode.TokenExpired) {
    // Token expired: one renewal per session. A second 4001 before a welcome means the
    // fresh token is refused too, and retrying would loop.
    if (s.renewals > 0) return go(s, { phase: 'unauthorized' }, drop, code, reason);
    return go(s, { phase: 'renewing', renewals: s.renewals + 1 }, [...drop, { type: 'renew-token' }], code, reason);
  }
  if (code === CloseCode.Unauthorized) return go(s, { phase: 'unauthorized' }, drop, code, reason);
  if (code === CloseCode.Normal) return go(s, { phase: 'idle' }, drop, code, reason);
  if (isTerminal(code) || !(isRetryable(code) || retriedLocally(code))) {
    return go(s, { phase: 'closed' }, drop, code, reason);
  }
  const attempt = s.attempt + 1;
  return go(
    s,
    { phase: 'waiting', attempt },
    [...drop, { type: 'schedule-retry', attempt, long: wantsLongBackoff(code) }],
    code,
    reason,
  );
}

function disconnect(s: MachineState, effects: Effect[]): Transition {
  return go(
    s,
    { phase: 'idle', attempt: 0, renewals: 0 },
    [...effects, { type: 'stop' }],
    LocalCode.Disconnect,
    'disconnect()',
  );
}

/** The transition table. Inputs not listed for a phase are ignored (returned unchanged, no effects). */
export function transition(s: MachineState, input: Input): Transition {
  switch (s.phase) {
    case 'idle':
      if (input.type === 'connect') return go(s, { phase: 'opening' }, [{ type: 'open-socket' }]);
      return same(s);

    case 'opening':
      switch (input.type) {
        case 'open':
          return { state: s, effects: [{ type: 'send-auth' }] };
        case 'welcome':
          return go(s, { phase: 'connected', renewals: 0, quickRetry: 'available' }, [
            { type: 'start-session', heartbeatMs: input.heartbeatMs },
            { type: 'resubscribe' },
          ]);
        case 'close':
          return onLost(s, input.code, input.reason, false);
        case 'stale':
          return onLost(s, input.code, input.reason, true);
        case 'error':
          return go(s, { phase: 'closed' }, [{ type: 'stop' }], LocalCode.TransportError, input.reason);
        case 'token':
          // Only a failure matters here: the first getToken() (no token cached yet) failed.
          return input.ok
            ? same(s)
            : go(s, { phase: 'unauthorized' }, [{ type: 'stop' }], LocalCode.TokenFailed, 'getToken() failed');
        case 'disconnect':
          return disconnect(s, [{ type: 'close-socket', code: LocalCode.Disconnect, reason: 'disconnect()' }]);
        default:
          return same(s);
      }

    case 'renewing':
      if (input.type === 'token') {
        return input.ok
          ? go(s, { phase: 'opening' }, [{ type: 'open-socket' }])
          : go(s, { phase: 'unauthorized' }, [{ type: 'stop' }], LocalCode.TokenFailed, 'getToken() failed');
      }
      if (input.type === 'disconnect') return disconnect(s, []);
      return same(s);

    case 'waiting':
      switch (input.type) {
        case 'timer':
          return go(s, { phase: 'opening' }, [{ type: 'open-socket' }]);
        case 'online':
        case 'visible':
          // The network or the user is back: one immediate attempt, not a loop.
          if (s.quickRetry === 'used') return same(s);
          return go(s, { phase: 'opening', quickRetry: 'used' }, [{ type: 'cancel-retry' }, { type: 'open-socket' }]);
        case 'offline':
          return { state: { ...s, quickRetry: 'available' }, effects: [] };
        case 'disconnect':
          return disconnect(s, [{ type: 'cancel-retry' }]);
        default:
          return same(s);
      }

    case 'connected':
      switch (input.type) {
        case 'close':
          return onLost(s, input.code, input.reason, false);
        case 'stale':
          return onLost(s, input.code, input.reason, true);
        case 'offline':
          return onLost({ ...s, quickRetry: 'available' }, LocalCode.Offline, 'browser offline', true);
        case 'stable':
          return { state: { ...s, attempt: 0 }, effects: [] };
        case 'disconnect':
          return disconnect(s, [{ type: 'close-socket', code: LocalCode.Disconnect, reason: 'disconnect()' }]);
        default:
          return same(s);
      }

    case 'unauthorized':
      // Never on its own: only the app asking again. The cached token was refused, so renew.
      if (input.type === 'connect') {
        return go(s, { phase: 'renewing', attempt: 0, renewals: 1, quickRetry: 'available' }, [
          { type: 'renew-token' },
        ]);
      }
      if (input.type === 'disconnect') return disconnect(s, []);
      return same(s);

    case 'closed':
      if (input.type === 'connect') {
        return go(s, { phase: 'opening', attempt: 0, renewals: 0, quickRetry: 'available' }, [{ type: 'open-socket' }]);
      }
      if (input.type === 'disconnect') return disconnect(s, []);
      return same(s);
  }
}
