import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from '../src/logging/logger.js';
import { startTestServer, TEST_API_KEY, TEST_JWT_SECRET } from './helpers/server.js';
import { TestClient } from './helpers/ws-client.js';

class Capture extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

describe('logging', () => {
  it('redactUrl keeps only the values of allow-listed query parameters, names compared after decoding', () => {
    expect(redactUrl('/api/v1/ws?token=abc.def.ghi&x=1')).toBe('/api/v1/ws?token=[redacted]&x=[redacted]');
    expect(redactUrl('/e?a=1&ticket=T1&TOKEN=t2&api_key=k')).toBe(
      '/e?a=[redacted]&ticket=[redacted]&TOKEN=[redacted]&api_key=[redacted]',
    );
    expect(redactUrl('/h?since=e1:4&limit=5&wait=2&owner=al&%74oken=SECRET&to%6Ben=S2&%74icket=S3')).toBe(
      '/h?since=e1:4&limit=5&wait=2&owner=al&token=[redacted]&token=[redacted]&ticket=[redacted]',
    );
    expect(redactUrl('/x?%zz=S4&a+b=S5&=S6&flag')).toBe(
      '/x?%25zz=[redacted]&a%20b=[redacted]&=[redacted]&flag=[redacted]',
    );
    expect(redactUrl('/plain')).toBe('/plain');
  });

  it('the logger never writes the secrets it is given, wherever they appear', () => {
    const out = new Capture();
    const apiKey = 'K-API-KEY-0123456789';
    const log = createLogger({ level: 'trace', destination: out, secrets: [apiKey, null, 'short'] });
    log.info({ note: `the key is ${apiKey}`, deep: { list: [`x${apiKey}y`] } }, `message ${apiKey}`);
    log.error({ err: new Error(`failed with ${apiKey}`) }, 'oops');
    expect(out.text).not.toContain(apiKey);
    expect(out.text.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it('the logger scrubs credentials from fields, messages and nested objects', () => {
    const out = new Capture();
    const log = createLogger({ level: 'trace', destination: out });
    log.info(
      { token: 'T-SECRET-1', nested: { authorization: 'Bearer T-SECRET-2', url: '/x?ticket=T-SECRET-3' } },
      'got Bearer T-SECRET-4',
    );
    log.warn('url /ws?token=T-SECRET-5 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl');
    log.error({ err: new Error('failed for /ws?token=T-SECRET-6') }, 'oops');
    expect(out.text).not.toMatch(/T-SECRET|c2lnbmF0dXJl/);
    expect(out.text).toContain('[redacted]');
    expect(out.text).toContain('"stack"');
  });

  it('failure mode 11: tokens, tickets and the API key never reach a log line, even at level trace', async () => {
    const out = new Capture();
    const t = await startTestServer({ logDestination: out, logLevel: 'trace' });
    const now = Math.floor(Date.now() / 1000);
    const good = await t.token({ sub: 'alice' });
    const admin = await t.token({ sub: 'root', admin: true });
    const expired = await t.token({ sub: 'alice', exp: now - 3600 });
    const bad = 'bad-token-SENTINEL-8c1f2e';
    const ticket = ((await t.api('POST', '/tickets', undefined, { token: good })).body as { ticket: string }).ticket;
    const ticket2 = ((await t.api('POST', '/tickets', undefined, { token: good })).body as { ticket: string }).ticket;
    try {
      // HTTP: credentials in query strings, headers, good and bad.
      await t.api('GET', `/tasks?token=${good}`, undefined, { token: null });
      await t.api('GET', `/nope?token=${good}&ticket=${ticket2}`, undefined, { token: null });
      // The same names percent-encoded, as an attacker or an odd client may send them.
      await t.api('GET', `/tasks?%74oken=${good}&to%6Ben=${admin}`, undefined, { token: null });
      await t.api('GET', `/channels/room:x/events?%74icket=${ticket2}&TOKEN=${bad}`, undefined, { token: null });
      await t.api('GET', `/tasks?%zz=${good}`, undefined, { token: null });
      await t.api('GET', `/tasks`, undefined, { token: good });
      await t.api('GET', `/stats`, undefined, { token: admin });
      await t.api('GET', `/tasks`, undefined, { token: bad });
      await t.api('GET', `/tasks`, undefined, { token: expired });
      await t.api('POST', '/tasks', { owner: 'alice', title: 'logged' });
      await t.api('GET', `/stats?api_key=${TEST_API_KEY}`, undefined, { token: null });
      // WebSocket: ?token=, ?ticket=, the auth frame, a bad token, an expired one.
      const viaQuery = await TestClient.connect(`${t.wsUrl}?token=${good}`);
      await viaQuery.next((f) => f.type === 'welcome', 'welcome');
      const viaTicket = await TestClient.connect(`${t.wsUrl}?ticket=${ticket}`);
      await viaTicket.next((f) => f.type === 'welcome', 'welcome');
      const reused = await TestClient.connect(`${t.wsUrl}?ticket=${ticket}`);
      expect(await reused.closeCodeWithin()).toBe(4501);
      const viaFrame = await TestClient.authed(t.wsUrl, admin);
      await viaFrame.request({ op: 'refresh', token: admin });
      const badWs = await TestClient.connect(`${t.wsUrl}?token=${bad}`);
      expect(await badWs.closeCodeWithin()).toBe(4501);
      const expiredWs = await TestClient.connect(t.wsUrl);
      expiredWs.send({ op: 'auth', token: expired });
      expect(await expiredWs.closeCodeWithin()).toBe(4001);
      for (const c of [viaQuery, viaTicket, viaFrame]) c.close();
    } finally {
      await t.close();
    }
    const text = out.text;
    const lines = text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    // Requests were logged, with their credentials redacted.
    expect(text).toContain('/api/v1/tasks?token=[redacted]');
    expect(text).toContain('ticket=[redacted]');
    const secrets = [TEST_JWT_SECRET, TEST_API_KEY, good, admin, expired, bad, ticket, ticket2];
    // Any distinctive piece of a token is a leak too: each JWT's signature and payload, each ticket's MAC.
    for (const jwt of [good, admin, expired]) secrets.push(...jwt.split('.').slice(1));
    for (const tk of [ticket, ticket2]) secrets.push(...tk.split('.'));
    for (const s of secrets)
      expect(text.includes(s), `a credential leaked into the log: ${s.slice(0, 12)}…`).toBe(false);
  });
  it('every request logs with its own reqId (a child logger per request) when the level lets it through', async () => {
    const out = new Capture();
    const t = await startTestServer({ logDestination: out, logLevel: 'info' });
    try {
      await t.api('POST', '/tasks', { owner: 'alice', title: 'logged' });
      await t.api('GET', '/tasks/missing-task');
    } finally {
      await t.close();
    }
    const lines = out.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg?: string; reqId?: string; req?: { url?: string } });
    const incoming = lines.filter((l) => l.msg === 'incoming request');
    const completed = lines.filter((l) => l.msg === 'request completed');
    expect(incoming.map((l) => l.req?.url)).toEqual(['/api/v1/tasks', '/api/v1/tasks/missing-task']);
    const ids = incoming.map((l) => l.reqId);
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(completed.map((l) => l.reqId)).toEqual(ids);
  });
});
