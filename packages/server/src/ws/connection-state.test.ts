import { describe, expect, it } from 'vitest';
import { BadFrameWindow, TimerSlot } from './connection-parts.js';
import { canSend, releasesResources, transition, type ConnectionState } from './connection-state.js';

const STATES: ConnectionState[] = ['authenticating', 'open', 'closing', 'closed'];

describe('connection states', () => {
  it('only moves forward, and closed is final', () => {
    const allowed = STATES.flatMap((from) =>
      STATES.filter((to) => transition(from, to) === to).map((to) => `${from}>${to}`),
    );
    expect(allowed).toEqual([
      'authenticating>open',
      'authenticating>closing',
      'authenticating>closed',
      'open>closing',
      'open>closed',
      'closing>closed',
    ]);
    expect(transition('closed', 'open')).toBeNull();
    expect(transition('open', 'authenticating')).toBeNull();
  });

  it('sends only while authenticating or open, and releases resources on the one transition out of them', () => {
    expect(STATES.filter(canSend)).toEqual(['authenticating', 'open']);
    expect(releasesResources('open', 'closing')).toBe(true);
    expect(releasesResources('authenticating', 'closed')).toBe(true);
    expect(releasesResources('closing', 'closed')).toBe(false);
    expect(releasesResources('authenticating', 'open')).toBe(false);
  });
});

describe('TimerSlot', () => {
  it('holds at most one timer and keeps the shared count exact', async () => {
    const counter = { active: 0 };
    const slot = new TimerSlot(counter);
    let fired = '';
    slot.set(10_000, () => (fired += 'a'));
    slot.set(1, () => (fired += 'b'));
    expect(counter.active).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe('b');
    expect(counter.active).toBe(0);
    slot.set(10_000, () => undefined);
    slot.clear();
    slot.clear();
    expect(counter.active).toBe(0);
  });
});

describe('BadFrameWindow', () => {
  it('trips on the 20th bad frame within a minute, not on 20 spread wider', () => {
    const w = new BadFrameWindow(20, 60_000);
    for (let i = 0; i < 19; i++) expect(w.record(1000 + i)).toBe(false);
    expect(w.record(2000)).toBe(true);
    const spread = new BadFrameWindow(20, 60_000);
    for (let i = 0; i < 40; i++) expect(spread.record(i * 4000)).toBe(false);
  });
});
