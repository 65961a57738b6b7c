import { describe, expect, it } from 'vitest';
import { groupName, parseMessage, tabLockName, tabsAlive, VERSION } from './protocol.js';

describe('tab messages', () => {
  it('accepts leader messages with a term and follower messages without one', () => {
    expect(parseMessage({ v: VERSION, from: 'a', term: 3, t: 'hello' })).toEqual({
      kind: 'leader',
      msg: { v: VERSION, from: 'a', term: 3, t: 'hello' },
    });
    expect(
      parseMessage({ v: VERSION, from: 'b', t: 'req', to: 'a', id: 1, frame: { op: 'unsubscribe', channel: 'x' } }),
    ).toMatchObject({ kind: 'follower' });
  });

  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['another version', { v: VERSION + 1, from: 'a', term: 1, t: 'hello' }],
    ['no sender', { v: VERSION, term: 1, t: 'hello' }],
    ['an empty sender', { v: VERSION, from: '', term: 1, t: 'hello' }],
    ['a leader message without a term', { v: VERSION, from: 'a', t: 'state' }],
    ['a term that is not a number', { v: VERSION, from: 'a', term: 'x', t: 'pong' }],
    ['an unknown type', { v: VERSION, from: 'a', term: 1, t: 'nope' }],
  ])('refuses %s', (_name, data) => {
    expect(parseMessage(data)).toBeUndefined();
  });
});

describe('group names', () => {
  it('differ by user and by server, so tabs of another user or server never share', () => {
    const a = groupName('wss://x.example/api/v1/ws', 'alice');
    expect(groupName('wss://x.example/api/v1/ws', 'bob')).not.toBe(a);
    expect(groupName('wss://y.example/api/v1/ws', 'alice')).not.toBe(a);
    expect(a).toContain(`v${VERSION}`);
  });

  it('finds the tabs alive from the tab locks held or pending', () => {
    const g = groupName('ws://x/api/v1/ws', 'alice');
    const other = groupName('ws://x/api/v1/ws', 'bob');
    expect(tabsAlive(g, [tabLockName(g, 't1'), g, tabLockName(other, 't2'), undefined, tabLockName(g, 't3')])).toEqual(
      new Set(['t1', 't3']),
    );
  });
});
