import { describe, expect, it } from 'vitest';
import { newConnectionId, newEpoch, newTaskId, randomBase62 } from './random-id.js';

describe('random ids', () => {
  it('have their formats', () => {
    expect(newConnectionId()).toMatch(/^c_[A-Za-z0-9_-]{16}$/);
    expect(newEpoch()).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(newTaskId()).toMatch(/^t_[A-Za-z0-9]{16}$/);
    expect(randomBase62(24)).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(() => randomBase62(65)).toThrow(RangeError);
  });

  it('never repeat, across many refills of the entropy pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newConnectionId()).add(newTaskId());
    expect(ids.size).toBe(40_000);
  });

  it('use every character of their alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) for (const c of newConnectionId().slice(2) + newEpoch()) seen.add(c);
    expect(seen.size).toBe(64);
  });
});
