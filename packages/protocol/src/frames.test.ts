import { describe, expect, it } from 'vitest';
import { CLIENT_OPS, parseClientFrame, type ClientFrame } from './frames.js';

const VALID: ClientFrame[] = [
  { op: 'auth', token: 'eyJ.x.y' },
  { op: 'subscribe', id: 1, channel: 'task:build-42' },
  { op: 'subscribe', id: 2, channel: 'task:build-42', since: { epoch: 'e7Kq', offset: 41 }, history: 20 },
  { op: 'subscribe', id: 3, channel: 'room:x', since: { epoch: 'a_b-C', offset: 0 } },
  { op: 'unsubscribe', id: 4, channel: 'task:build-42' },
  { op: 'publish', id: 5, channel: 'room:lobby', data: { any: 'json' }, idempotencyKey: 'k1' },
  { op: 'publish', id: 6, channel: 'room:lobby', data: null },
  { op: 'ping', id: 0 },
  { op: 'refresh', id: 7, token: 't' },
  { op: 'stream', id: 8, task: 'build-42' },
  { op: 'stream', id: 9, task: 'build-42', stream: 'log' },
];

function rejected(text: string): { id: number | undefined; op: string | undefined; message: string } {
  const r = parseClientFrame(text);
  if (r.ok) throw new Error(`expected ${text} to be rejected`);
  return r;
}

describe('parseClientFrame', () => {
  it('covers every op', () => {
    expect(new Set(VALID.map((f) => f.op))).toEqual(new Set(CLIENT_OPS));
  });

  it.each(VALID.map((f) => [f.op, f] as const))('accepts a valid %s frame', (_op, frame) => {
    expect(parseClientFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });

  it.each(['', '{', 'not json', '{"op":"ping","id":1', 'undefined'])('rejects malformed JSON %j', (text) => {
    expect(rejected(text)).toMatchObject({ id: undefined, op: undefined, message: 'frame is not valid JSON' });
  });

  it.each(['null', '5', '"ping"', '[{"op":"ping","id":1}]', 'true'])('rejects the non-object %s', (text) => {
    expect(rejected(text)).toMatchObject({ id: undefined, op: undefined });
  });

  it('rejects an unknown or missing op, echoing a usable id', () => {
    expect(rejected('{"op":"shout","id":9}')).toMatchObject({ id: 9, op: 'shout' });
    expect(rejected('{"id":10}')).toMatchObject({ id: 10, op: undefined });
    expect(rejected('{"op":5,"id":11}')).toMatchObject({ id: 11, op: undefined });
    expect(rejected('{"op":"toString","id":12}')).toMatchObject({ id: 12, op: 'toString' });
    expect(rejected('{"op":"__proto__","id":13}')).toMatchObject({ id: 13 });
  });

  it.each([
    ['missing id', { op: 'ping' }, undefined],
    ['missing channel', { op: 'subscribe', id: 1 }, 1],
    ['missing token', { op: 'auth' }, undefined],
    ['empty token', { op: 'auth', token: '' }, undefined],
    ['missing refresh token', { op: 'refresh', id: 2 }, 2],
    ['channel not a string', { op: 'unsubscribe', id: 3, channel: 5 }, 3],
    ['since without offset', { op: 'subscribe', id: 4, channel: 'task:a', since: { epoch: 'e' } }, 4],
    ['negative offset', { op: 'subscribe', id: 5, channel: 'task:a', since: { epoch: 'e', offset: -1 } }, 5],
    ['fractional offset', { op: 'subscribe', id: 6, channel: 'task:a', since: { epoch: 'e', offset: 1.5 } }, 6],
    ['bad epoch', { op: 'subscribe', id: 7, channel: 'task:a', since: { epoch: 'a b', offset: 1 } }, 7],
    ['long epoch', { op: 'subscribe', id: 8, channel: 'task:a', since: { epoch: 'e'.repeat(33), offset: 1 } }, 8],
    ['extra since field', { op: 'subscribe', id: 9, channel: 'task:a', since: { epoch: 'e', offset: 1, x: 1 } }, 9],
    ['history not an integer', { op: 'subscribe', id: 10, channel: 'task:a', history: 'all' }, 10],
    ['negative history', { op: 'subscribe', id: 11, channel: 'task:a', history: -1 }, 11],
    ['empty idempotency key', { op: 'publish', id: 12, channel: 'room:a', data: 1, idempotencyKey: '' }, 12],
    ['long channel', { op: 'unsubscribe', id: 13, channel: 'x'.repeat(141) }, 13],
  ])('rejects %s', (_name, frame, id) => {
    const r = rejected(JSON.stringify(frame));
    expect(r.id).toBe(id);
    expect(r.op).toBe(frame.op);
    expect(r.message.startsWith(`${frame.op}:`)).toBe(true);
  });

  it('does not echo an id that is not a usable request id', () => {
    for (const id of ['1', -1, 1.5, null, Number.MAX_SAFE_INTEGER + 2, { a: 1 }]) {
      expect(rejected(JSON.stringify({ op: 'ping', id })).id).toBeUndefined();
    }
  });

  it('accepts the largest safe id and echoes it', () => {
    expect(parseClientFrame(JSON.stringify({ op: 'ping', id: Number.MAX_SAFE_INTEGER })).ok).toBe(true);
  });
});
