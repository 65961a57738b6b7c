/**
 * The dashboard at `/` and the dev token route:
 *
 * - `GET /api/v1/dev/token` exists only with `dev: true`, and answers only a request
 *   made directly from loopback (peer address, Host, no proxy headers); anything
 *   else is the same 404 as an unknown route. The token is a 1 h admin token.
 * - The dashboard's files are served at `/` beside `/docs`, `/healthz`, `/metrics`
 *   and `/api/v1/*` without shadowing them; a missing build answers a page saying
 *   how to build it; `dashboard: false` turns `/` off.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type StandaloneServer } from '../src/app/create-server.js';
import { isLoopbackAddress, isLoopbackHost } from '../src/http/dev.js';
import { TEST_API_KEY, TEST_JWT_SECRET, startTestServer, type TestServer } from './helpers/server.js';

const base = { jwtSecret: TEST_JWT_SECRET, apiKey: TEST_API_KEY, engine: 'memory', logLevel: 'silent' } as const;
const servers: StandaloneServer[] = [];
let tmp: string;

async function server(options: Parameters<typeof createServer>[0]): Promise<StandaloneServer> {
  const s = await createServer({ ...base, processMetrics: false, ...options });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-dashboard-'));
  await mkdir(path.join(tmp, 'dist', 'assets'), { recursive: true });
  await writeFile(
    path.join(tmp, 'dist', 'index.html'),
    '<!doctype html><title>dash</title><script src="./assets/app-1a2b.js"></script>',
  );
  await writeFile(path.join(tmp, 'dist', 'assets', 'app-1a2b.js'), 'console.log("dashboard")');
});

afterAll(async () => {
  for (const s of servers) await s.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('GET /api/v1/dev/token', () => {
  it('is 404, like an unknown route, on a server without --dev', async () => {
    const s = await server({ dev: false });
    const res = await s.app.inject({ method: 'GET', url: '/api/v1/dev/token' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/v1/dev/token' } });
  });

  it('gives a loopback caller of a --dev server a 1 h admin token that the server accepts', async () => {
    const s = await server({ dev: true });
    const res = await s.app.inject({ method: 'GET', url: '/api/v1/dev/token', headers: { host: '127.0.0.1:8080' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<{ token: string; expiresAt: string }>();
    const principal = await s.ctx.auth.verifyToken(body.token);
    expect(principal).toMatchObject({ sub: 'admin', admin: true, apiKey: false });
    expect(principal.expiresAt).toBe(Date.parse(body.expiresAt));
    expect(Math.abs(Date.parse(body.expiresAt) - (Date.now() + 3_600_000))).toBeLessThan(5_000);
  });

  it('answers over a real loopback socket, and is 404 for other peers, proxied requests and foreign Host names', async () => {
    const t: TestServer = await startTestServer({ dev: true });
    try {
      const ok = await t.api('GET', '/dev/token', undefined, { token: null });
      expect(ok.status).toBe(200);
      expect(typeof ok.body.token).toBe('string');
      const refused = [
        { remoteAddress: '10.1.2.3', headers: { host: 'localhost' } },
        { remoteAddress: '127.0.0.1', headers: { host: 'localhost', 'x-forwarded-for': '203.0.113.9' } },
        { remoteAddress: '127.0.0.1', headers: { host: 'localhost', forwarded: 'for=203.0.113.9' } },
        { remoteAddress: '127.0.0.1', headers: { host: 'rebound.example.com' } },
      ];
      for (const r of refused) {
        const res = await t.server.app.inject({ method: 'GET', url: '/api/v1/dev/token', ...r });
        expect(res.statusCode, JSON.stringify(r)).toBe(404);
        expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
      }
    } finally {
      await t.close();
    }
  });

  it('knows loopback addresses and host names', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
      expect(isLoopbackAddress(a), a).toBe(true);
    }
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1', '', undefined]) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
    for (const h of ['localhost', 'localhost:8080', 'app.localhost:3000', '127.0.0.1:8080', '[::1]:8080', '[::1]']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ['example.com', '127.0.0.1.nip.io', '[fe80::1]:80', 'localhost.evil.com', '', undefined]) {
      expect(isLoopbackHost(h), String(h)).toBe(false);
    }
  });
});

describe('the dashboard at /', () => {
  it('serves the built files at / without shadowing the other routes', async () => {
    const s = await server({ dashboardDir: path.join(tmp, 'dist') });
    const page = await s.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>dash</title>');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['cache-control']).toBe('no-cache');
    const asset = await s.app.inject({ method: 'GET', url: '/assets/app-1a2b.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await s.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    expect((await s.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    const unknownApi = await s.app.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(unknownApi.statusCode).toBe(404);
    expect(unknownApi.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await s.app.inject({ method: 'GET', url: '/api/v1/stats' })).statusCode).toBe(401);
    expect((await s.app.inject({ method: 'GET', url: '/nope.js' })).statusCode).toBe(404);
    const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    expect(
      Object.keys(doc.paths).filter((p) => !p.startsWith('/api/') && !['/healthz', '/readyz', '/metrics'].includes(p)),
    ).toEqual([]);
  });

  it('answers / with how to build the dashboard when it is not built, and keeps running', async () => {
    const missing = path.join(tmp, 'not-built');
    const s = await server({ dashboardDir: missing });
    const res = await s.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('npm run build');
    expect(res.body).toContain(missing);
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('is off with dashboard: false', async () => {
    const s = await server({ dashboard: false, dashboardDir: path.join(tmp, 'dist') });
    expect((await s.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    expect((await s.app.inject({ method: 'GET', url: '/assets/app-1a2b.js' })).statusCode).toBe(404);
  });
});
