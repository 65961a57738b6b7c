/**
 * WebSocket protocol errors are the client's fault: an oversized frame still closes
 * with 1009, and it is logged at debug by our @fastify/websocket errorHandler, never
 * at error level (the plugin's default handler logged it at error).
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

class Lines extends Writable {
  readonly records: Array<{ level: number; msg?: string }> = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n'))
      if (line !== '') this.records.push(JSON.parse(line) as { level: number; msg?: string });
    cb();
  }
}

it('an oversized WebSocket frame closes with 1009 and is logged at debug, not error', async () => {
  const logs = new Lines();
  const t = await startTestServer({ maxFrameBytes: 1024, logDestination: logs, logLevel: 'debug' });
  try {
    const token = await t.token({ sub: 'alice' });
    const c = await TestClient.authed(t.wsUrl, token);
    c.send({ op: 'ping', id: 1, pad: 'x'.repeat(4096) });
    expect(await c.closeCodeWithin()).toBe(1009);
    await new Promise((r) => setImmediate(r));
    expect(logs.records.some((r) => r.level === 20 && r.msg === 'ws: socket error')).toBe(true);
    expect(logs.records.filter((r) => r.level >= 50)).toEqual([]);
  } finally {
    await t.close();
  }
});
