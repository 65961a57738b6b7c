import { describe, expect, it } from 'vitest';
import {
  isValidChannel,
  isValidId,
  isValidPattern,
  matchesAny,
  matchesPattern,
  parseChannel,
  roomChannel,
  taskChannel,
  userChannel,
} from './channels.js';

describe('channel names', () => {
  it.each([
    ['task:build-42', { kind: 'task', id: 'build-42' }],
    ['user:alice@example.com', { kind: 'user', id: 'alice@example.com' }],
    ['room:team_a.b-c', { kind: 'room', id: 'team_a.b-c' }],
    [`task:${'x'.repeat(128)}`, { kind: 'task', id: 'x'.repeat(128) }],
  ])('parses %s', (name, parsed) => {
    expect(parseChannel(name)).toEqual(parsed);
    expect(isValidChannel(name)).toBe(true);
  });

  it.each([
    '',
    'task:',
    'task',
    ':x',
    'tasks:x',
    'Task:x',
    'room:a b',
    'room:a/b',
    'room:a:b',
    'user:é',
    'room:a*',
    ' task:x',
    'task:x\n',
    `task:${'x'.repeat(129)}`,
  ])('refuses %j', (name) => {
    expect(parseChannel(name)).toBeNull();
    expect(isValidChannel(name)).toBe(false);
  });

  it('refuses non-strings', () => {
    for (const v of [undefined, null, 5, {}, ['task:x']]) {
      expect(parseChannel(v)).toBeNull();
      expect(isValidId(v)).toBe(false);
    }
  });

  it('validates ids with the same grammar', () => {
    expect(isValidId('a')).toBe(true);
    expect(isValidId('A-z_0.9@x')).toBe(true);
    expect(isValidId('x'.repeat(128))).toBe(true);
    expect(isValidId('x'.repeat(129))).toBe(false);
    expect(isValidId('')).toBe(false);
    expect(isValidId('a b')).toBe(false);
  });

  it('builds names', () => {
    expect(taskChannel('a')).toBe('task:a');
    expect(userChannel('b')).toBe('user:b');
    expect(roomChannel('c')).toBe('room:c');
  });
});

describe('permission patterns', () => {
  it.each([
    ['task:a', 'task:a', true],
    ['task:a', 'task:ab', false],
    ['task:*', 'task:anything', true],
    ['task:*', 'user:alice', false],
    ['room:team-*', 'room:team-red', true],
    ['room:team-*', 'room:teams', false],
    ['*', 'room:x', true],
    ['room:*x*', 'room:*xy', false],
    ['room:a*b', 'room:a*b', true], // no wildcard in the middle: the pattern is an exact name
  ])('%s matches %s: %s', (pattern, channel, expected) => {
    expect(matchesPattern(pattern, channel)).toBe(expected);
  });

  it('matchesAny is false for no patterns', () => {
    expect(matchesAny(undefined, 'task:a')).toBe(false);
    expect(matchesAny([], 'task:a')).toBe(false);
    expect(matchesAny(['user:x', 'task:*'], 'task:a')).toBe(true);
  });

  it.each(['task:a', 'task:*', 'room:team-*', 'user:*', '*', 'ta*', 'room:*'])('accepts pattern %s', (p) => {
    expect(isValidPattern(p)).toBe(true);
  });

  it.each(['', 'task:a*b', '**', 'task:**', 'foo:*', 'task:a b*', 'room:a/*', 5, null, 'x'.repeat(141)])(
    'refuses pattern %j',
    (p) => {
      expect(isValidPattern(p)).toBe(false);
    },
  );
});
