import { describe, expect, it } from 'vitest';
import {
  CHANNEL_INPUTS,
  CHANNEL_PHASES,
  acceptsEvents,
  transition,
  type ChannelInput,
  type ChannelPhase,
} from './channel-state.js';

/** The whole table, written out: every phase × every input (null: refused, nothing changes). */
const EXPECTED: Record<ChannelPhase, Record<ChannelInput, ChannelPhase | null>> = {
  starting: { started: 'live', deliver: null, drained: null, gap: null, filled: null, close: 'closed' },
  live: { started: null, deliver: 'delivering', drained: null, gap: null, filled: null, close: 'closed' },
  delivering: { started: null, deliver: null, drained: 'live', gap: 'filling', filled: null, close: 'closed' },
  filling: { started: null, deliver: null, drained: null, gap: null, filled: 'delivering', close: 'closed' },
  closed: { started: null, deliver: null, drained: null, gap: null, filled: null, close: null },
};

describe('Hub channel states', () => {
  for (const phase of CHANNEL_PHASES) {
    for (const input of CHANNEL_INPUTS) {
      const to = EXPECTED[phase][input];
      it(`${phase} × ${input} → ${to ?? 'refused'}`, () => {
        expect(transition(phase, input)).toBe(to);
      });
    }
  }

  it('accepts events in every phase but closed, and closed is final', () => {
    expect(CHANNEL_PHASES.filter(acceptsEvents)).toEqual(['starting', 'live', 'delivering', 'filling']);
    expect(CHANNEL_INPUTS.map((i) => transition('closed', i)).every((p) => p === null)).toBe(true);
  });

  it('reaches every phase from starting', () => {
    const seen = new Set<ChannelPhase>(['starting']);
    for (let grew = true; grew;) {
      grew = false;
      for (const from of Array.from(seen))
        for (const input of CHANNEL_INPUTS) {
          const to = transition(from, input);
          if (to !== null && !seen.has(to)) {
            seen.add(to);
            grew = true;
          }
        }
    }
    expect([...seen].sort()).toEqual([...CHANNEL_PHASES].sort());
  });
});
