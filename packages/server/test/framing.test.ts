/**
 * Events are encoded once, as a complete WebSocket frame (hub/encoded-event.ts), and
 * written straight to each socket (ws/wire.ts):
 * a real ws client must decode every payload-length encoding (7-bit, 16-bit, 64-bit),
 * interleaved with ws's own replies, in order. And the verified-token cache never
 * accepts a token past its expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, eventPrefix } from '../src/hub/encoded-event.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ clockLeewaySec: 0 });
});
afterAll(async () => {
  await t.close();
});

describe('pre-framed event writes', () => {
  it('encodes the three payload-length forms of RFC 6455, the payload being the event frame', () => {
    const prefix = eventPrefix('room:é', 'e1');
    const encode = (data: string): { frame: Buffer; payload: Buffer } => {
      const e = encodeEvent(prefix, 7, 1700000000000, JSON.stringify(data));
      return { frame: e.wsFrame, payload: e.payload };
    };
    const small = encode('hi');
    const text = '{"type":"event","channel":"room:é","epoch":"e1","offset":7,"time":1700000000000,"data":"hi"}';
    expect(small.payload.toString()).toBe(text);
    expect([...small.frame.subarray(0, 2)]).toEqual([0x81, Buffer.byteLength(text)]);
    expect(small.frame.subarray(2).equals(small.payload)).toBe(true);
    const mid = encode('ü'.repeat(100));
    const midLength = mid.payload.length;
    expect(midLength).toBeGreaterThan(125);
    expect([mid.frame[0], mid.frame[1], mid.frame.readUInt16BE(2), mid.frame.length]).toEqual([
      0x81,
      126,
      midLength,
      midLength + 4,
    ]);
    expect(JSON.parse(mid.payload.toString())).toMatchObject({ offset: 7, data: 'ü'.repeat(100) });
    const big = encode('a'.repeat(70_000));
    const bigLength = big.payload.length;
    expect([big.frame[0], big.frame[1], Number(big.frame.readBigUInt64BE(2)), big.frame.length]).toEqual([
      0x81,
      127,
      bigLength,
      bigLength + 10,
    ]);
    expect(JSON.parse(big.payload.toString())).toMatchObject({ channel: 'room:é', data: 'a'.repeat(70_000) });
  });

  it('delivers small, medium and large events intact and in order, between replies', async () => {
    const token = await t.token({ sub: 'framer', channels: ['room:frames'] });
    const c = await TestClient.authed(t.wsUrl, token);
    expect((await c.request({ op: 'subscribe', channel: 'room:frames' })).result).toBeDefined();
    const sizes = [1, 100, 125, 126, 1000, 65_000, 3, 60_000];
    for (const n of sizes) {
      const res = await t.api('POST', '/channels/room:frames/publish', { data: { s: 'x'.repeat(n) } });
      expect(res.status).toBe(200);
      // A reply written by ws itself between pre-framed events keeps the stream in order.
      expect((await c.request({ op: 'ping' })).result).toEqual({});
    }
    for (const [i, n] of sizes.entries()) {
      const e = await c.next((f) => f.type === 'event', `event ${i}`);
      expect(e.offset).toBe(i + 1);
      expect((e.data as { s: string }).s.length).toBe(n);
    }
    c.close();
  });
});

describe('verified-token cache', () => {
  it('refuses a token that verified before once it has expired', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await t.token({ sub: 'short', exp });
    const first = await TestClient.authed(t.wsUrl, token);
    first.close();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 200));
    const again = await TestClient.connect(t.wsUrl);
    again.send({ op: 'auth', token });
    expect(await again.closeCodeWithin()).toBe(4001);
  });
});
