import { describe, expect, it } from 'vitest';
import {
  INITIAL,
  INPUT_TYPES,
  PHASES,
  PUBLIC_STATE,
  transition,
  type Effect,
  type Input,
  type MachineState,
  type Phase,
} from './machine.js';

/** One representative of every input; `token` is split into its two outcomes. */
const INPUTS = {
  connect: { type: 'connect' },
  disconnect: { type: 'disconnect' },
  open: { type: 'open' },
  welcome: { type: 'welcome', heartbeatMs: 25_000 },
  close: { type: 'close', code: 1006, reason: '' },
  error: { type: 'error', reason: 'bad url' },
  timer: { type: 'timer' },
  stable: { type: 'stable' },
  stale: { type: 'stale', code: 3008, reason: 'silent' },
  tokenOk: { type: 'token', ok: true },
  tokenFail: { type: 'token', ok: false },
  online: { type: 'online' },
  offline: { type: 'offline' },
  visible: { type: 'visible' },
} as const satisfies Record<string, Input>;
type InputName = keyof typeof INPUTS;

/** The whole table: the phase after each input, for every phase. Unlisted = unchanged. */
const TABLE: Record<Phase, Partial<Record<InputName, Phase>>> = {
  idle: { connect: 'opening' },
  opening: {
    disconnect: 'idle',
    welcome: 'connected',
    close: 'waiting',
    stale: 'waiting',
    error: 'closed',
    tokenFail: 'unauthorized',
  },
  renewing: { tokenOk: 'opening', tokenFail: 'unauthorized', disconnect: 'idle' },
  waiting: { timer: 'opening', online: 'opening', visible: 'opening', disconnect: 'idle' },
  connected: { close: 'waiting', stale: 'waiting', offline: 'waiting', disconnect: 'idle' },
  unauthorized: { connect: 'renewing', disconnect: 'idle' },
  closed: { connect: 'opening', disconnect: 'idle' },
};

const at = (phase: Phase, patch: Partial<MachineState> = {}): MachineState => ({ ...INITIAL, phase, ...patch });
const types = (effects: readonly Effect[]): string[] => effects.map((e) => e.type);

describe('connection machine: every phase × every input', () => {
  it('has a representative of every input type', () => {
    expect(new Set(Object.values(INPUTS).map((i) => i.type))).toEqual(new Set(INPUT_TYPES));
  });

  for (const phase of PHASES) {
    for (const [name, input] of Object.entries(INPUTS) as [InputName, Input][]) {
      const expected = TABLE[phase][name] ?? phase;
      it(`${phase} + ${name} → ${expected}`, () => {
        const from = at(phase);
        const { state, effects } = transition(from, input);
        expect(state.phase).toBe(expected);
        // A `state` effect is emitted exactly when the public state changes, first.
        const changed = PUBLIC_STATE[from.phase] !== PUBLIC_STATE[state.phase];
        expect(effects.filter((e) => e.type === 'state')).toHaveLength(changed ? 1 : 0);
        if (changed) {
          expect(effects[0]).toMatchObject({ oldState: PUBLIC_STATE[phase], newState: PUBLIC_STATE[expected] });
        }
        // An ignored input does nothing at all.
        if (expected === phase && !(phase === 'opening' && name === 'open') && !['stable', 'offline'].includes(name)) {
          expect(effects).toEqual([]);
        }
        // Nothing but connect/timer/online/visible/token opens a socket: no tight loops.
        if (types(effects).includes('open-socket')) {
          expect(['connect', 'timer', 'online', 'visible', 'tokenOk']).toContain(name);
        }
        // Terminal states are left only by the app.
        if (phase === 'unauthorized' || phase === 'closed') {
          if (!['connect', 'disconnect'].includes(name)) expect(state).toEqual(from);
        }
      });
    }
  }
});

describe('connection machine: close codes', () => {
  const CASES: Array<[number, Phase, 'retry' | 'long' | 'renew' | 'none']> = [
    [1000, 'idle', 'none'],
    [1001, 'waiting', 'retry'],
    [1005, 'waiting', 'retry'],
    [1006, 'waiting', 'retry'],
    [1009, 'closed', 'none'],
    [1011, 'waiting', 'retry'],
    [1012, 'waiting', 'retry'],
    [1013, 'waiting', 'long'],
    [3008, 'waiting', 'retry'],
    [4000, 'waiting', 'retry'],
    [4001, 'renewing', 'renew'],
    [4008, 'waiting', 'long'],
    [4009, 'waiting', 'retry'],
    [4010, 'waiting', 'retry'],
    [4029, 'waiting', 'long'],
    [4499, 'waiting', 'retry'],
    [4500, 'closed', 'none'],
    [4501, 'unauthorized', 'none'],
    [4503, 'closed', 'none'],
    [4999, 'closed', 'none'],
  ];
  for (const from of ['opening', 'connected'] as const) {
    for (const [code, phase, action] of CASES) {
      it(`${from} + close ${code} → ${phase} (${action})`, () => {
        const { state, effects } = transition(at(from, { attempt: 2 }), { type: 'close', code, reason: 'r' });
        expect(state.phase).toBe(phase);
        const retry = effects.find((e) => e.type === 'schedule-retry');
        if (action === 'retry' || action === 'long') {
          expect(retry).toEqual({ type: 'schedule-retry', attempt: 3, long: action === 'long' });
        } else expect(retry).toBeUndefined();
        expect(types(effects).includes('renew-token')).toBe(action === 'renew');
        expect(types(effects)).toContain('stop');
        const stateEffect = effects.find((e) => e.type === 'state');
        if (stateEffect) expect(stateEffect).toMatchObject({ code, reason: 'r' });
      });
    }
  }

  it('a second 4001 before a welcome gives up in unauthorized', () => {
    let s = transition(at('connected'), { type: 'close', code: 4001, reason: 'expired' }).state;
    expect(s.phase).toBe('renewing');
    s = transition(s, { type: 'token', ok: true }).state;
    expect(s.phase).toBe('opening');
    const last = transition(s, { type: 'close', code: 4001, reason: 'expired' });
    expect(last.state.phase).toBe('unauthorized');
    expect(types(last.effects)).not.toContain('renew-token');
  });

  it('a welcome resets the renewal allowance and starts the session and resubscribes', () => {
    const t = transition(at('opening', { renewals: 1, quickRetry: 'used' }), { type: 'welcome', heartbeatMs: 1000 });
    expect(t.state).toMatchObject({ phase: 'connected', renewals: 0, quickRetry: 'available' });
    expect(types(t.effects)).toEqual(['state', 'start-session', 'resubscribe']);
  });

  it('stable resets the attempt counter; the next failure starts from attempt 1', () => {
    const s = transition(at('connected', { attempt: 7 }), { type: 'stable' }).state;
    expect(s.attempt).toBe(0);
    expect(transition(s, { type: 'close', code: 1006, reason: '' }).effects).toContainEqual({
      type: 'schedule-retry',
      attempt: 1,
      long: false,
    });
  });

  it('online or visible retries at once only once until the next offline', () => {
    const first = transition(at('waiting', { attempt: 3 }), { type: 'online' });
    expect(types(first.effects)).toEqual(['cancel-retry', 'open-socket']);
    const failed = transition(first.state, { type: 'close', code: 1006, reason: '' }).state;
    expect(transition(failed, { type: 'visible' }).state.phase).toBe('waiting');
    const offline = transition(failed, { type: 'offline' }).state;
    expect(transition(offline, { type: 'online' }).state.phase).toBe('opening');
  });

  it('disconnect closes the socket with 1000 and resets counters', () => {
    const t = transition(at('connected', { attempt: 4, renewals: 1 }), { type: 'disconnect' });
    expect(t.state).toEqual({ ...INITIAL, phase: 'idle', quickRetry: 'available' });
    expect(t.effects).toContainEqual({ type: 'close-socket', code: 1000, reason: 'disconnect()' });
  });
});
