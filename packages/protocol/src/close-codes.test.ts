import { describe, expect, it } from 'vitest';
import { CloseCode, isRetryable, isTerminal, wantsLongBackoff } from './close-codes.js';

describe('close codes', () => {
  // The table of docs/protocol.md §2: code → does the client reconnect on its own?
  const TABLE: Array<[number, boolean]> = [
    [1000, false],
    [1001, true],
    [1006, true],
    [1009, false],
    [1011, true],
    [1012, true],
    [1013, true],
    [4001, true],
    [4008, true],
    [4009, true],
    [4010, true],
    [4029, true],
    [4500, false],
    [4501, false],
    [4503, false],
  ];

  it.each(TABLE)('isRetryable(%i) is %s', (code, retryable) => {
    expect(isRetryable(code)).toBe(retryable);
  });

  it('names every code of the protocol table', () => {
    expect(Object.values(CloseCode).sort()).toEqual(TABLE.map(([c]) => c).sort());
  });

  it('decides by range for codes the protocol does not list yet', () => {
    for (const code of [4000, 4002, 4250, 4499]) expect(isRetryable(code)).toBe(true);
    for (const code of [4500, 4502, 4750, 4999]) {
      expect(isRetryable(code)).toBe(false);
      expect(isTerminal(code)).toBe(true);
    }
    for (const code of [1002, 1003, 1007, 1008, 1010, 1014, 1015, 3000, 3999, 5000]) {
      expect(isRetryable(code)).toBe(false);
    }
    for (const code of [1000, 1012, 4001, 4499, 5000]) expect(isTerminal(code)).toBe(false);
  });

  it('asks for a long backoff after rate limits and connection limits', () => {
    expect(wantsLongBackoff(CloseCode.RateLimited)).toBe(true);
    expect(wantsLongBackoff(CloseCode.ConnectionLimit)).toBe(true);
    expect(wantsLongBackoff(CloseCode.TryAgainLater)).toBe(true);
    expect(wantsLongBackoff(CloseCode.SlowConsumer)).toBe(false);
    expect(wantsLongBackoff(CloseCode.ServiceRestart)).toBe(false);
  });
});
