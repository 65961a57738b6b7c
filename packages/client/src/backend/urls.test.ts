import { describe, expect, it } from 'vitest';
import { websocketUrl } from './urls.js';

describe('websocketUrl', () => {
  it.each([
    ['http://127.0.0.1:8080', 'ws://127.0.0.1:8080/api/v1/ws'],
    ['http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/api/v1/ws'],
    ['http://127.0.0.1:8080/api/v1', 'ws://127.0.0.1:8080/api/v1/ws'],
    ['http://127.0.0.1:8080/api/v1/', 'ws://127.0.0.1:8080/api/v1/ws'],
    ['http://127.0.0.1:8080/api/v1/ws', 'ws://127.0.0.1:8080/api/v1/ws'],
    ['https://example.com', 'wss://example.com/api/v1/ws'],
    ['https://example.com/taskwire', 'wss://example.com/taskwire/api/v1/ws'],
    ['https://example.com/taskwire/api/v1', 'wss://example.com/taskwire/api/v1/ws'],
    ['wss://example.com/taskwire/api/v1/ws', 'wss://example.com/taskwire/api/v1/ws'],
    ['ws://h:1//', 'ws://h:1/api/v1/ws'],
    ['https://example.com/x?token=secret#y', 'wss://example.com/x/api/v1/ws'],
  ])('%s → %s', (base, ws) => {
    expect(websocketUrl(base)).toBe(ws);
    expect(websocketUrl(ws)).toBe(ws); // idempotent: feeding it its own output changes nothing
  });

  it('refuses what is not a URL of the server', () => {
    expect(() => websocketUrl('/api/v1/ws')).toThrow();
    expect(() => websocketUrl('ftp://example.com')).toThrow(/not http/);
  });
});
