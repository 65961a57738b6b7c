/** The fallback policy: the pure step function (its runner: fallback-runner.test.ts). */
import { describe, expect, it } from 'vitest';
import {
  FALLBACK_INITIAL,
  fallbackStep,
  type FallbackEffect,
  type FallbackInput,
  type FallbackState,
} from './fallback.js';

const CONFIG = { count: 3, failures: 3 };

/** Feed inputs in order; returns the final state and every effect. */
function run(inputs: FallbackInput[], from: FallbackState = FALLBACK_INITIAL) {
  let state = from;
  const effects: FallbackEffect[] = [];
  for (const input of inputs) {
    const t = fallbackStep(state, input, CONFIG);
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

/** One failed attempt on `index` whose probe says HTTP works (`ok`) or not. */
const failure = (index: number, ok = true): FallbackInput[] => [
  { type: 'failed', index },
  { type: 'probed', ok },
];

describe('fallbackStep (pure)', () => {
  it('moves to the next transport after 3 failures while HTTP works, and schedules the WebSocket retry', () => {
    const two = run([...failure(0), ...failure(0)]);
    expect(two.state).toMatchObject({ current: 0, failures: 2 });
    expect(two.effects).toEqual([{ type: 'probe' }, { type: 'probe' }]);
    const three = run(failure(0), two.state);
    expect(three.state).toEqual({ current: 1, failures: 0, probing: false, trialFrom: null });
    expect(three.effects).toEqual([
      { type: 'probe' },
      { type: 'use', index: 1, reconnect: false },
      { type: 'schedule-retry' },
    ]);
  });

  it('never switches while the server itself is down (the probe fails)', () => {
    const { state, effects } = run([...failure(0, false), ...failure(0, false), ...failure(0, false), ...failure(0)]);
    expect(state).toMatchObject({ current: 0, failures: 1 });
    expect(effects.filter((e) => e.type === 'use')).toEqual([]);
  });

  it('a failure while a probe is under way is not counted twice', () => {
    const { state, effects } = run([
      { type: 'failed', index: 0 },
      { type: 'failed', index: 0 },
      { type: 'probed', ok: true },
    ]);
    expect(state).toMatchObject({ current: 0, failures: 1, probing: false });
    expect(effects).toEqual([{ type: 'probe' }]);
  });

  it('a welcome resets the count and voids the probe under way', () => {
    const { state } = run([
      ...failure(0),
      ...failure(0),
      { type: 'failed', index: 0 },
      { type: 'welcome', index: 0 },
      { type: 'probed', ok: true },
    ]);
    expect(state).toEqual(FALLBACK_INITIAL);
  });

  it('SSE failing the same way → long-poll; the last transport never probes', () => {
    const onSse = run([...failure(0), ...failure(0), ...failure(0)]).state;
    const { state, effects } = run([...failure(1), ...failure(1), ...failure(1)], onSse);
    expect(state.current).toBe(2);
    expect(effects.at(-1)).toEqual({ type: 'use', index: 2, reconnect: false });
    expect(effects).not.toContainEqual({ type: 'schedule-retry' }); // already scheduled when leaving 0
    expect(run([{ type: 'failed', index: 2 }], state).effects).toEqual([]);
  });

  it('ignores results from a transport no longer in use', () => {
    const onSse = run([...failure(0), ...failure(0), ...failure(0)]).state;
    expect(
      run(
        [
          { type: 'welcome', index: 0 },
          { type: 'failed', index: 0 },
        ],
        onSse,
      ).state,
    ).toEqual(onSse);
  });

  it('retries the first transport once: back to the fallback on failure, stays on success', () => {
    const onLongPoll: FallbackState = { ...FALLBACK_INITIAL, current: 2 };
    const trial = run([{ type: 'retry-first' }], onLongPoll);
    expect(trial.state).toEqual({ current: 0, failures: 0, probing: false, trialFrom: 2 });
    expect(trial.effects).toEqual([{ type: 'use', index: 0, reconnect: true }]);
    // A second trigger while trying is ignored.
    expect(run([{ type: 'retry-first' }], trial.state).effects).toEqual([]);

    const failed = run([{ type: 'failed', index: 0 }], trial.state);
    expect(failed.state).toEqual({ ...FALLBACK_INITIAL, current: 2 });
    expect(failed.effects).toEqual([{ type: 'use', index: 2, reconnect: false }, { type: 'schedule-retry' }]);

    const welcomed = run([{ type: 'welcome', index: 0 }], trial.state);
    expect(welcomed.state).toEqual(FALLBACK_INITIAL);
    expect(welcomed.effects).toEqual([{ type: 'cancel-retry' }]);
  });

  it('with one transport it never probes or switches', () => {
    const t = fallbackStep(FALLBACK_INITIAL, { type: 'failed', index: 0 }, { count: 1, failures: 3 });
    expect(t.effects).toEqual([]);
  });
});
