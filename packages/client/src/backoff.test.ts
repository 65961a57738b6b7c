import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';

describe('backoff', () => {
  it('stays within [0.5 s, 30 s] and under the exponential ceiling for any attempt and draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (attempt, r) => {
          const d = backoffDelay(attempt, false, DEFAULT_BACKOFF, () => r);
          expect(d).toBeGreaterThanOrEqual(500);
          expect(d).toBeLessThanOrEqual(Math.min(30_000, 500 * 2 ** Math.min(attempt, 31)));
        },
      ),
    );
  });

  it('long backoff (4008, 4029, 1013) never waits less than 5 s', () => {
    for (let attempt = 1; attempt < 40; attempt++) {
      expect(backoffDelay(attempt, true, DEFAULT_BACKOFF, () => 0)).toBe(5_000);
      expect(backoffDelay(attempt, true, DEFAULT_BACKOFF, () => 0.999)).toBeLessThanOrEqual(30_000);
    }
  });

  it('is jittered: the first retry spreads over 0.5-1 s, the tenth reaches 30 s', () => {
    expect(backoffDelay(1, false, DEFAULT_BACKOFF, () => 0)).toBe(500);
    expect(backoffDelay(1, false, DEFAULT_BACKOFF, () => 1)).toBe(1000);
    expect(backoffDelay(10, false, DEFAULT_BACKOFF, () => 1)).toBe(30_000);
  });

  it('draws from [floor, backoffCeiling]: the ceiling is the top of the window, for any options', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.boolean(),
        fc.record({
          minMs: fc.integer({ min: 1, max: 10_000 }),
          maxMs: fc.integer({ min: 1, max: 100_000 }),
          longMinMs: fc.integer({ min: 1, max: 20_000 }),
        }),
        (attempt, long, opts) => {
          const floor = Math.min(long ? opts.longMinMs : opts.minMs, opts.maxMs);
          expect(backoffDelay(attempt, long, opts, () => 0)).toBe(floor);
          expect(backoffDelay(attempt, long, opts, () => 1)).toBe(backoffCeiling(attempt, long, opts));
        },
      ),
    );
  });

  it('backoffCeiling doubles from 2 × floor up to maxMs', () => {
    expect([1, 2, 3, 6, 7, 40].map((a) => backoffCeiling(a, false))).toEqual([
      1000, 2000, 4000, 30_000, 30_000, 30_000,
    ]);
    expect([1, 2, 3].map((a) => backoffCeiling(a, true))).toEqual([10_000, 20_000, 30_000]);
    const dashboard = { minMs: 500, maxMs: 10_000, longMinMs: 5_000 };
    expect([1, 2, 4, 5, 30].map((a) => backoffCeiling(a, false, dashboard))).toEqual([
      1000, 2000, 8000, 10_000, 10_000,
    ]);
    expect(backoffCeiling(1, true, dashboard)).toBe(10_000);
  });
});
