/**
 * SseStream and SseGateway without a network: what the Hub's `ended` writes, the
 * per-event chunk built once for every stream, cleanup exactly once, and the
 * slow-consumer cut. The end-to-end behaviour is in test/sse.test.ts.
 */
import { ConnectionBudget } from '../hub/connection-budget.js';
import { encodeEvent, eventPrefix } from '../hub/encoded-event.js';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/types.js';
import { zeroCounts } from '../metrics/metrics.js';
import { SseGateway, type SseContext } from './sse-stream.js';

class FakeResponse extends EventEmitter {
  readonly chunks: string[] = [];
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  writableLength = 0;
  socket = { destroyed: false };
  /** Bytes the "client" never reads. */
  stuck = false;

  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  write(chunk: Buffer | string): boolean {
    this.chunks.push(chunk.toString());
    if (this.stuck) this.writableLength += chunk.length;
    return true;
  }
  end(): this {
    this.writableEnded = true;
    this.emit('close');
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.socket.destroyed = true;
    this.emit('close');
    return this;
  }
}

const principal: Principal = { sub: 'alice', admin: false, apiKey: false, channels: [], publish: [], expiresAt: null };

function setup(sendBufferBytes = 1 << 20): { gw: SseGateway; removed: unknown[]; delivered: { sse: number } } {
  const removed: unknown[] = [];
  const delivered = zeroCounts();
  const ctx: SseContext = {
    config: { sendBufferBytes, clockLeewaySec: 5, heartbeatMs: 25_000 },
    channels: {
      release: (s: unknown) => void removed.push(s),
      budget: new ConnectionBudget({ maxConnections: 100, maxConnectionsPerUser: 100 }),
    },
    metrics: { delivered },
  };
  return { gw: new SseGateway(ctx), removed, delivered };
}

const open = (gw: SseGateway): { res: FakeResponse; stream: ReturnType<SseGateway['create']> } => {
  const res = new FakeResponse();
  const stream = gw.create(res as unknown as ServerResponse, principal);
  stream.open('e1', '');
  return { res, stream };
};

describe('SseStream', () => {
  it('builds the SSE chunk of an event once and writes the same bytes to every stream', () => {
    const { gw, delivered } = setup();
    const a = open(gw);
    const b = open(gw);
    const frame = encodeEvent(eventPrefix('room:x', 'e1'), 7, 1, '{}');
    a.stream.deliver('room:x', frame, 7);
    b.stream.deliver('room:x', frame, 7);
    expect(gw.chunkFor(frame, 'e1', 7)).toBe(gw.chunkFor(frame, 'e1', 7));
    const chunk = `id: e1:7\nevent: event\ndata: {"type":"event","channel":"room:x","epoch":"e1","offset":7,"time":1,"data":{}}\n\n`;
    expect(a.res.chunks.at(-1)).toBe(chunk);
    expect(b.res.chunks.at(-1)).toBe(chunk);
    expect(delivered.sse).toBe(2);
  });

  it('answers the Hub ending a subscription with event: unsubscribed, then ends the stream and cleans up once', () => {
    const { gw, removed } = setup();
    const { res, stream } = open(gw);
    stream.ended('room:x', { code: 'unavailable', message: 'reset', resubscribe: true });
    expect(res.chunks.at(-1)).toBe(
      'event: unsubscribed\ndata: {"channel":"room:x","code":"unavailable","message":"reset","resubscribe":true}\n\n',
    );
    expect(res.writableEnded).toBe(true);
    stream.end('gone');
    res.emit('close');
    expect(removed).toEqual([stream]);
    expect(gw.size).toBe(0);
    stream.deliver('room:x', encodeEvent(eventPrefix('room:x', 'e1'), 8, 1, '{}'), 8);
    expect(res.chunks.at(-1)).toContain('unsubscribed');
  });

  it('cuts a stream whose unread bytes go over sendBufferBytes, and counts it', () => {
    const { gw } = setup(1024);
    const { res, stream } = open(gw);
    res.stuck = true;
    const frame = encodeEvent(eventPrefix('room:x', 'e1'), 1, 1, JSON.stringify({ big: 'x'.repeat(2000) }));
    stream.deliver('room:x', frame, 1);
    expect(res.destroyed).toBe(true);
    expect(gw.counts.slowConsumerCloses).toBe(1);
    expect(gw.size).toBe(0);
  });

  it('closeAll ends every stream and refuses new ones', () => {
    const { gw } = setup();
    const streams = [open(gw), open(gw), open(gw)];
    gw.closeAll();
    expect(streams.every((s) => s.res.writableEnded)).toBe(true);
    expect(gw.size).toBe(0);
    expect(gw.accepting).toBe(false);
  });
});
