/**
 * What hostile or unlucky input gets, through the public entry points: deeply nested
 * JSON on every route and frame, the errors Fastify and Node raise before a route
 * runs (one error format), and the dev token behind a proxy.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SseClient } from './helpers/sse-client.js';
import { TestClient } from './helpers/ws-client.js';

const nested = (depth: number, leaf = '0'): string => '['.repeat(depth) + leaf + ']'.repeat(depth);

class Capture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  }
}

/** Send raw bytes to the server and read everything until it closes. */
function raw(t: TestServer, request: string): Promise<string> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let out = '';
    socket.on('data', (b: Buffer) => (out += b.toString()));
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.write(request);
  });
}

const bodyOf = (response: string): unknown => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));

describe('deeply nested JSON', () => {
  let t: TestServer;
  const logs = new Capture();
  beforeAll(async () => {
    t = await startTestServer({ logDestination: logs, logLevel: 'info' });
  });
  afterAll(() => t.close());

  it('is refused with 400 naming the limit on every HTTP body, and nothing is stored', async () => {
    for (const depth of [65, 4300, 20_000]) {
      const value = nested(depth);
      const cases: Array<[string, string, string]> = [
        ['POST', '/channels/room:deep/publish', `{"data":${value}}`],
        ['POST', '/tasks', `{"owner":"alice","id":"deep-${depth}","meta":{"x":${value}}}`],
        ['PATCH', '/tasks/deep-ok', `{"result":${value}}`],
      ];
      for (const [method, path, body] of cases) {
        const res = await t.api(method, path, body);
        expect(res.status, `${method} ${path} at depth ${depth}`).toBe(400);
        expect(res.body.error.code).toBe('bad_request');
        expect(res.body.error.message).toContain('64 levels');
      }
    }
    expect((await t.api('GET', '/tasks/deep-65')).status).toBe(404);
    expect((await t.api('GET', '/channels/room:deep/history')).body).toMatchObject({ offset: 0, events: [] });
    // 64 levels inside a value are fine.
    const ok = await t.api('POST', '/channels/room:deep/publish', `{"data":${nested(64)}}`);
    expect(ok.status).toBe(200);
  });

  it('is refused over WebSocket with a bad_request reply; the connection, the channel, history and SSE keep working', async () => {
    const tok = await t.token({ sub: 'u', channels: ['room:*'], publish: ['room:*'] });
    const c = await TestClient.authed(t.wsUrl, tok);
    for (const depth of [4300, 20_000]) {
      c.ws.send(`{"op":"publish","id":${depth},"channel":"room:ws-deep","data":${nested(depth)}}`);
      const reply = await c.next((f) => f.type === 'reply' && f.id === depth, `reply ${depth}`);
      expect(reply.error).toMatchObject({ code: 'bad_request' });
      expect(String((reply.error as { message: string }).message)).toContain('64 levels');
    }
    expect((await c.request({ op: 'publish', channel: 'room:ws-deep', data: { fine: true } })).result).toMatchObject({
      offset: 1,
    });
    const sub = await c.request({ op: 'subscribe', channel: 'room:ws-deep', history: 10 });
    expect(sub.result).toMatchObject({ offset: 1 });
    expect((await t.api('GET', '/channels/room:ws-deep/history')).status).toBe(200);
    const sse = new SseClient(`${t.url}/api/v1/channels/room:ws-deep/events`, { token: () => tok });
    await t.api('POST', '/channels/room:ws-deep/publish', { data: { n: 2 } });
    const [event] = await sse.take(1);
    expect(event?.data).toMatchObject({ offset: 2, data: { n: 2 } });
    sse.close();
    c.close();
  });

  it('logs no error line and no stack for any of it', () => {
    const bad = logs.lines.map((l) => JSON.parse(l) as { level: number }).filter((l) => l.level >= 50);
    expect(bad).toEqual([]);
    expect(logs.lines.some((l) => l.includes('"stack"'))).toBe(false);
  });
});

describe('one error format, even before a route runs', () => {
  let t: TestServer;
  const logs = new Capture();
  beforeAll(async () => {
    t = await startTestServer({ logDestination: logs, logLevel: 'info' });
  });
  afterAll(async () => {
    await t.close();
    // Client-caused errors log at info at most, never with a stack.
    expect(logs.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 40)).toEqual([]);
    expect(logs.lines.some((l) => l.includes('"stack"'))).toBe(false);
  });

  it('answers {"error":{"code","message"}} with a catalogue code for each framework error', async () => {
    const long = 'a'.repeat(3000);
    const cases: Array<[string, () => Promise<{ status: number; body: unknown }>, number, string]> = [
      ['bad percent-encoding', () => t.api('GET', '/tasks/%zz'), 400, 'bad_request'],
      ['bad percent-encoding at the root', () => t.api('GET', '/api/%zz'), 400, 'bad_request'],
      ['over-long path parameter', () => t.api('GET', `/tasks/${long}`), 414, 'too_large'],
      [
        'unsupported media type',
        () => t.api('POST', '/tasks', 'owner=a', { headers: { 'content-type': 'text/plain' } }),
        415,
        'bad_request',
      ],
      ['bad JSON', () => t.api('POST', '/tasks', '{"owner":'), 400, 'bad_request'],
      [
        'body over the limit',
        () => t.api('POST', '/tasks', JSON.stringify({ owner: 'a', meta: { x: 'y'.repeat(1_100_000) } })),
        413,
        'too_large',
      ],
      ['unknown route', () => t.api('GET', '/nowhere'), 404, 'not_found'],
      ['unknown method', () => t.api('DELETE', '/stats'), 404, 'not_found'],
    ];
    for (const [what, call, status, code] of cases) {
      const res = await call();
      expect(res.status, what).toBe(status);
      expect(res.body, what).toEqual({ error: { code, message: expect.any(String) as string } });
      expect(JSON.stringify(res.body), `${what} does not echo the path`).not.toContain(long);
    }
  });

  it('answers headers over Node’s limit (431) and malformed HTTP in the same shape', async () => {
    const big = await raw(t, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(big)).toEqual({ error: { code: 'too_large', message: expect.any(String) as string } });
    const garbage = await raw(t, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(garbage)).toEqual({ error: { code: 'bad_request', message: expect.any(String) as string } });
  });
});

describe('the dev token', () => {
  it('is refused (404, like a missing route) to any request carrying a proxy header', async () => {
    const t = await startTestServer({ dev: true });
    try {
      expect((await t.api('GET', '/dev/token', undefined, { token: null })).status).toBe(200);
      const proxied = [
        ['forwarded', 'for=203.0.113.9'],
        ['x-forwarded-for', '203.0.113.9'],
        ['x-forwarded-host', 'evil.example'],
        ['x-forwarded-proto', 'https'],
        ['x-real-ip', '203.0.113.9'],
        ['via', '1.1 nginx'],
        ['true-client-ip', '203.0.113.9'],
        ['cf-connecting-ip', '203.0.113.9'],
      ];
      for (const [name, value] of proxied) {
        const res = await t.api('GET', '/dev/token', undefined, {
          token: null,
          headers: { [name as string]: value as string },
        });
        expect(res.status, name).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    } finally {
      await t.close();
    }
  });
});
