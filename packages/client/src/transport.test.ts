/** Compile-time: the DOM's EventSource (and the `eventsource` package's, see test/fallback.test.ts) fit the option. */
import { describe, expect, it } from 'vitest';
import type { EventSourceConstructor } from './transport.js';

describe('EventSourceConstructor', () => {
  it('accepts the standard EventSource', () => {
    const ctor: EventSourceConstructor | undefined = (globalThis as { EventSource?: typeof EventSource }).EventSource;
    expect(ctor === undefined || typeof ctor === 'function').toBe(true);
  });
});
