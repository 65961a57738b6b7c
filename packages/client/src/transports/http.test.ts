import { describe, expect, it } from 'vitest';
import { closeCode, errorOf, httpBase } from './http.js';

describe('HTTP transport helpers', () => {
  it('derives the HTTP API base from the WebSocket URL', () => {
    expect(httpBase('wss://example.com/api/v1/ws')).toBe('https://example.com/api/v1');
    expect(httpBase('ws://127.0.0.1:8080/api/v1/ws?x=1')).toBe('http://127.0.0.1:8080/api/v1');
    expect(httpBase('wss://example.com/taskwire/api/v1/ws/')).toBe('https://example.com/taskwire/api/v1');
  });

  it('maps HTTP failures to close codes the machine acts on by range', () => {
    expect(closeCode(401)).toBe(4001); // renew the token
    expect(closeCode(429)).toBe(4029); // long backoff
    expect(closeCode(503)).toBe(1012);
    expect(closeCode(500)).toBe(1011);
    expect(closeCode(0)).toBe(1006); // no answer
    expect(closeCode(200)).toBe(1006); // answered, but not as a stream
  });

  it('reads the protocol error body, or makes one from the status', () => {
    const body = { error: { code: 'forbidden', message: 'user:bob is not yours' } };
    expect(errorOf({ status: 403, body })).toEqual(body.error);
    expect(errorOf({ status: 404, body: 'Not Found' })).toEqual({ code: 'not_found', message: 'HTTP 404' });
    expect(errorOf({ status: 0, body: undefined })).toEqual({ code: 'unavailable', message: 'HTTP unreachable' });
  });
});
