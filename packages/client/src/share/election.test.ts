import { describe, expect, it } from 'vitest';
import { elect, IDLE, type ElectionInput, type Role, type RoleState } from './election.js';

const G = 'taskwire/v1 ws://x/api/v1/ws alice';

/** Runs inputs from IDLE; returns the state and every effect type in order. */
function run(...inputs: ElectionInput[]): { state: RoleState; effects: string[] } {
  let state = IDLE;
  const effects: string[] = [];
  for (const input of inputs) {
    const step = elect(state, input);
    state = step.state;
    effects.push(...step.effects.map((e) => e.type));
  }
  return { state, effects };
}

const join: ElectionInput[] = [{ type: 'connect' }, { type: 'resolved', group: G }];
const lead: ElectionInput[] = [...join, { type: 'granted', now: 1000 }];

/** One representative of every input (`resolved` in its two outcomes). */
const INPUTS = {
  connect: { type: 'connect' },
  disconnect: { type: 'disconnect' },
  resolvedGroup: { type: 'resolved', group: G },
  resolvedNull: { type: 'resolved', group: null },
  granted: { type: 'granted', now: 5 },
  lost: { type: 'lost' },
  newerLeader: { type: 'leader', id: 'L', term: 5000 },
  bye: { type: 'bye', id: 'L' },
  silent: { type: 'silent' },
  freeze: { type: 'freeze' },
  resume: { type: 'resume' },
} as const satisfies Record<string, ElectionInput>;
type InputName = keyof typeof INPUTS;

/** How to reach each role from IDLE. */
const REACH: Record<Role, ElectionInput[]> = {
  idle: [],
  resolving: [{ type: 'connect' }],
  solo: [{ type: 'connect' }, { type: 'resolved', group: null }],
  follower: join,
  leader: lead,
  paused: [...join, { type: 'freeze' }],
};

/** The whole table: the role and the effects after each input, for every role. Unlisted = unchanged, no effects. */
const TABLE: Record<Role, Partial<Record<InputName, [Role, string[]]>>> = {
  idle: { connect: ['resolving', ['resolve']] },
  resolving: {
    disconnect: ['idle', []],
    resolvedGroup: ['follower', ['join', 'follow']],
    resolvedNull: ['solo', ['solo']],
    freeze: ['paused', []],
  },
  solo: { disconnect: ['idle', ['solo']] },
  follower: {
    disconnect: ['idle', ['leave']],
    granted: ['leader', ['lead']],
    newerLeader: ['follower', ['follow']],
    silent: ['follower', ['steal']],
    freeze: ['paused', ['leave']],
  },
  leader: {
    disconnect: ['idle', ['unlead', 'leave']],
    lost: ['follower', ['unlead', 'queue', 'follow']],
    newerLeader: ['follower', ['unlead', 'queue', 'follow']],
    freeze: ['paused', ['unlead', 'leave']],
  },
  paused: { connect: ['resolving', ['resolve']], resume: ['resolving', ['resolve']], disconnect: ['idle', []] },
};

describe('election: every role × every input', () => {
  for (const [role, path] of Object.entries(REACH) as [Role, ElectionInput[]][]) {
    for (const [name, input] of Object.entries(INPUTS) as [InputName, ElectionInput][]) {
      it(`${role} + ${name}`, () => {
        const before = run(...path).state;
        expect(before.role).toBe(role);
        const step = elect(before, input);
        const [next, effects] = TABLE[role][name] ?? [role, []];
        expect([step.state.role, step.effects.map((e) => e.type)]).toEqual([next, effects]);
        // The invariants: a leader follows nobody, a solo tab is in no group.
        if (step.state.role === 'leader') expect(step.state.leader).toBeNull();
        if (step.state.role === 'solo') expect(step.state.group).toBeNull();
        if (!TABLE[role][name]) expect(step.state).toBe(before);
      });
    }
  }
});

describe('election: the paths that matter', () => {
  it('joins, is granted the lock and leads with a term newer than any it heard', () => {
    const { state, effects } = run(...join, { type: 'leader', id: 'L', term: 2000 }, { type: 'granted', now: 1000 });
    expect(state).toEqual({ role: 'leader', group: G, leader: null, term: 2001 });
    expect(effects).toEqual(['resolve', 'join', 'follow', 'follow', 'lead']);
  });

  it('goes solo when it cannot share', () => {
    expect(run({ type: 'connect' }, { type: 'resolved', group: null }).state.role).toBe('solo');
  });

  it('a follower steals from a silent leader; the robbed leader follows the new one', () => {
    expect(run(...join, { type: 'leader', id: 'L', term: 5 }, { type: 'silent' }).effects.at(-1)).toBe('steal');
    const robbed = run(...lead, { type: 'leader', id: 'B', term: 2000 });
    expect(robbed.state).toEqual({ role: 'follower', group: G, leader: { id: 'B', term: 2000 }, term: 2000 });
    expect(robbed.effects.slice(-3)).toEqual(['unlead', 'queue', 'follow']);
    // Its own stale messages of an older term do not move anyone back.
    const stale = run(...join, { type: 'leader', id: 'B', term: 2000 }, { type: 'leader', id: 'L', term: 1000 });
    expect(stale.state.leader).toEqual({ id: 'B', term: 2000 });
  });

  it('a leader that loses the lock queues again', () => {
    const { state, effects } = run(...lead, { type: 'lost' });
    expect(state.role).toBe('follower');
    expect(effects.slice(-3)).toEqual(['unlead', 'queue', 'follow']);
  });

  it("the leader's bye leaves its followers waiting for the next hello", () => {
    const { state } = run(...join, { type: 'leader', id: 'L', term: 5 }, { type: 'bye', id: 'L' });
    expect(state.leader).toBeNull();
    expect(run(...join, { type: 'leader', id: 'L', term: 5 }, { type: 'bye', id: 'X' }).state.leader?.id).toBe('L');
  });

  it('freezing leaves the group (a leader releases the lock first) and resuming joins again', () => {
    expect(run(...lead, { type: 'freeze' }).effects.slice(-2)).toEqual(['unlead', 'leave']);
    const back = run(...lead, { type: 'freeze' }, { type: 'resume' }, { type: 'resolved', group: G });
    expect(back.state.role).toBe('follower');
    expect(back.state.term).toBe(1000); // it remembers the newest term
  });

  it('disconnect from any role ends in idle', () => {
    for (const path of Object.values(REACH)) expect(run(...path, { type: 'disconnect' }).state.role).toBe('idle');
  });
});
