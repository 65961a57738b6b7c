import { describe, expect, it } from 'vitest';
import { FEATURES, PROTOCOL_VERSION, type WelcomeFrame } from '@taskwire/protocol';
import { welcomeFrame } from './connection-parts.js';

describe('welcomeFrame', () => {
  it('is the JSON text of the WelcomeFrame, keys in protocol order, user and id escaped', () => {
    for (const user of ['alice', 'a "quoted" \\ user\n', 'ünï©ødé']) {
      const text = welcomeFrame('c_AbC-_123', user, 25_000);
      const frame = JSON.parse(text) as WelcomeFrame;
      const expected: WelcomeFrame = {
        type: 'welcome',
        protocol: PROTOCOL_VERSION,
        connectionId: 'c_AbC-_123',
        user,
        heartbeatMs: 25_000,
        serverTime: frame.serverTime,
        features: [...FEATURES],
      };
      expect(text).toBe(JSON.stringify(expected));
      expect(Math.abs(frame.serverTime - Date.now())).toBeLessThan(60_000);
    }
  });
});
