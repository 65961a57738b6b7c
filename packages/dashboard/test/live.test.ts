/**
 * The attempt tracker of live.ts: before the client's `retry` event, the next attempt
 * is due by the end of the client's backoff window for the dashboard's options
 * (attempt n: min(10 s, floor × 2^n), floor 0.5 s, or 5 s after 1013, 4008, 4029).
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createAttemptTracker } from '../src/live.js';

/** A port with nothing listening: every socket to it closes with 1006. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Open one tracked socket and wait for its close. */
async function attempt(tracker: ReturnType<typeof createAttemptTracker>, url: string): Promise<void> {
  const ws = new tracker.WebSocket(url);
  expect(tracker.get().opening).toBe(true);
  expect(tracker.nextAttemptBy()).toBeNull();
  await new Promise((resolve) => ws.addEventListener('close', resolve));
}

describe('createAttemptTracker', () => {
  let limiter: WebSocketServer;
  let limiterUrl: string;

  beforeAll(async () => {
    // Closes every socket at once with 4029, as a server over its connection limit does.
    limiter = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    limiter.on('connection', (socket) => socket.close(4029, 'too many'));
    await once(limiter, 'listening');
    limiterUrl = `ws://127.0.0.1:${(limiter.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    limiter.close();
    await once(limiter, 'close');
  });

  it('after 1006: the next attempt by the end of the 0.5 s window, doubling up to 10 s', async () => {
    const tracker = createAttemptTracker();
    const url = `ws://127.0.0.1:${await deadPort()}/`;
    const due: number[] = [];
    for (let i = 0; i < 6; i++) {
      await attempt(tracker, url);
      const { closedAt, closeCode, failures } = tracker.get();
      expect([closeCode, failures]).toEqual([1006, i + 1]);
      due.push((tracker.nextAttemptBy() ?? NaN) - (closedAt ?? NaN));
    }
    expect(due).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('after 4029: the long window, from 5 s (capped at 10 s)', async () => {
    const tracker = createAttemptTracker();
    await attempt(tracker, limiterUrl);
    const { closedAt, closeCode } = tracker.get();
    expect(closeCode).toBe(4029);
    expect((tracker.nextAttemptBy() ?? NaN) - (closedAt ?? NaN)).toBe(10_000);
  });

  it('once the client announced its retry, that exact time', async () => {
    const tracker = createAttemptTracker();
    await attempt(tracker, `ws://127.0.0.1:${await deadPort()}/`);
    tracker.noteRetry(12_345);
    expect(tracker.nextAttemptBy()).toBe(12_345);
  });
});
