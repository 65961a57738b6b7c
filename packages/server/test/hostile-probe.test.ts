/**
 * The hostile cases of the hardening issue, all at once against one real server
 * process (`taskwire serve` on SQLite, logging at trace): deep JSON on publish and
 * task fields, encoded credential names in every route's query, a 5,000-publish
 * burst, 3× the per-user limit in long-polls, 3× --max-pending-auth silent sockets
 * beside a real client, each framework error, a narrowing refresh, each proxy header.
 * Then: no 500 anywhere, the process never crashed (it exits 0 on SIGTERM), no
 * credential in any log line, and every acknowledged write is there after a restart.
 * (A full disk is disk-full.test.ts: it needs its own filesystem.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signDevToken } from '../src/config/resolve.js';
import { exitWithin, freePort, killAll, startServe, type ServeProcess } from './helpers/process.js';
import { TestClient } from './helpers/ws-client.js';

const API_KEY = 'probe-api-key-9f8e7d6c5b4a39281706';
const JWT_SECRET = 'probe-jwt-secret-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const dir = mkdtempSync(join(tmpdir(), 'tw-probe-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

const sign = (claims: { sub: string; channels?: string[]; publish?: string[] }): Promise<string> =>
  signDevToken({ jwtSecret: JWT_SECRET, jwtAlgorithm: 'HS256' }, { ...claims, ttl: 3600 });
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

async function serve(db: string, port: number): Promise<{ proc: ServeProcess; logs: () => string }> {
  const proc = await startServe([
    '--dev',
    ...['--engine', 'sqlite', '--db', db, '--port', String(port)],
    ...['--api-key', API_KEY, '--jwt-secret', JWT_SECRET, '--log-level', 'trace', '--log-format', 'json'],
    ...['--max-connections-per-user', '3', '--max-pending-auth', '20', '--history-size', '10000'],
  ]);
  let all = '';
  proc.child.stdout?.on('data', (b: Buffer) => (all += b.toString()));
  return { proc, logs: () => all };
}

describe('a probe run of the hostile cases', () => {
  it('answers no 500, never crashes, logs no credential, and keeps every acknowledged write', async () => {
    const db = join(dir, 'probe.db');
    const port = await freePort();
    const { proc, logs } = await serve(db, port);
    const statuses: Array<[string, number]> = [];
    const api = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const all: Record<string, string> = {
        authorization: `Bearer ${API_KEY}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      };
      if (all.authorization === '') delete all.authorization; // no credential at all
      const res = await fetch(`${proc.url}${path}`, { method, headers: all, ...(body !== undefined ? { body } : {}) });
      statuses.push([`${method} ${path.slice(0, 80)}`, res.status]);
      const text = await res.text();
      return { status: res.status, json: (text.startsWith('{') ? JSON.parse(text) : text) as Record<string, unknown> };
    };
    const ackedTasks: string[] = [];
    const ackedPublishes: number[] = [];

    // Deep JSON on publish and every task field.
    for (const depth of [4300, 20_000]) {
      await api('POST', '/api/v1/channels/room:probe/publish', `{"data":${nested(depth)}}`);
      await api('POST', '/api/v1/tasks', `{"owner":"eve","id":"deep-${depth}","meta":{"x":${nested(depth)}}}`);
    }
    for (let i = 0; i < 5; i++) {
      const created = await api('POST', '/api/v1/tasks', JSON.stringify({ owner: 'eve', id: `probe-${i}` }));
      if (created.status === 201) ackedTasks.push(`probe-${i}`);
      await api('PATCH', `/api/v1/tasks/probe-${i}`, `{"result":${nested(20_000)}}`);
    }

    // Credentials under encoded names in every route's query.
    const eve = await sign({ sub: 'eve', channels: ['room:*'], publish: ['room:*'] });
    const ticket = (
      (await api('POST', '/api/v1/tickets', undefined, { authorization: `Bearer ${eve}` })).json as {
        ticket: string;
      }
    ).ticket;
    const query = `?%74oken=${eve}&%74icket=${ticket}&api%5Fkey=${API_KEY}&TOKEN=${eve}&access_token=${eve}&x=${JWT_SECRET}`;
    const routes = [
      ['GET', '/api/v1/tasks'],
      ['GET', '/api/v1/tasks/probe-0'],
      ['GET', '/api/v1/channels/room:probe/history'],
      ['GET', '/api/v1/stats'],
      ['GET', '/api/v1/ws'],
      ['GET', '/api/v1/dev/token'],
      ['GET', '/api/v1/nowhere'],
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/metrics'],
      ['GET', '/docs/json'],
      ['GET', '/'],
    ] as const;
    for (const [method, path] of routes) await api(method, `${path}${query}`, undefined, { authorization: '' });

    // A 5,000-publish burst on one socket: slowed, never refused.
    const burster = await TestClient.authed(proc.wsUrl, eve);
    for (let i = 0; i < 5000; i++)
      burster.ws.send(JSON.stringify({ op: 'publish', id: 10_000 + i, channel: 'room:burst', data: { i } }));
    for (let i = 0; i < 5000; i++) {
      const r = await burster.next((f) => f.type === 'reply' && f.id === 10_000 + i, `burst reply ${i}`);
      expect(r.error, `burst ${i}`).toBeUndefined();
      ackedPublishes.push((r.result as { offset: number }).offset);
    }

    // 3× the per-user limit in long-polls (the burster holds one of eve's 3 slots).
    const at = (await api('GET', '/api/v1/channels/room:burst/history?limit=0')).json as {
      epoch: string;
      offset: number;
    };
    const polls = Array.from({ length: 9 }, () =>
      api('GET', `/api/v1/channels/room:burst/history?since=${at.epoch}:${at.offset}&wait=20`, undefined, {
        authorization: `Bearer ${eve}`,
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    const released = await api('POST', '/api/v1/channels/room:burst/publish', '{"data":{"release":true}}');
    ackedPublishes.push((released.json as { offset: number }).offset);
    const pollStatuses = (await Promise.all(polls)).map((p) => p.status).sort();
    expect(pollStatuses).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429]);

    // 3× --max-pending-auth silent sockets beside a real client.
    const silent = await Promise.all(Array.from({ length: 60 }, () => TestClient.connect(proc.wsUrl)));
    const real = await TestClient.authed(proc.wsUrl, await sign({ sub: 'mallory' }));
    expect((await real.request({ op: 'ping' })).result).toEqual({});

    // A narrowing refresh.
    await real.request({ op: 'subscribe', channel: 'user:mallory' });
    const narrower = await burster.request({
      op: 'refresh',
      token: await sign({ sub: 'eve', publish: ['room:other'] }),
    });
    expect(narrower.result).toEqual({});

    // Each framework error, and each proxy header on the dev token.
    await api('GET', '/api/v1/tasks/%zz');
    await api('GET', `/api/v1/tasks/${'a'.repeat(3000)}`);
    await api('POST', '/api/v1/tasks', 'owner=a', { 'content-type': 'text/plain' });
    await api('POST', '/api/v1/tasks', '{"owner":');
    await api('DELETE', '/api/v1/stats');
    for (const h of [
      'forwarded',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-real-ip',
      'via',
      'true-client-ip',
      'cf-connecting-ip',
    ]) {
      const res = await api('GET', '/api/v1/dev/token', undefined, { authorization: '', [h]: '127.0.0.1' });
      expect(res.status, h).toBe(404);
    }

    for (const c of [burster, real, ...silent]) c.close();
    expect(
      statuses.filter(([, s]) => s >= 500),
      'no 5xx',
    ).toEqual([]);
    proc.child.kill('SIGTERM');
    expect((await exitWithin(proc, 15_000)).code, 'a clean exit: the process never crashed').toBe(0);

    // No credential in any log line (the JSON lines: the banner prints the dev secrets by design).
    const lines = logs()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(100);
    const secrets = [API_KEY, JWT_SECRET, eve, ticket, ...eve.split('.').slice(1), ...ticket.split('.')];
    for (const line of lines)
      for (const s of secrets) expect(line.includes(s), `a credential leaked: ${line.slice(0, 200)}`).toBe(false);

    // Every acknowledged write is there after a restart.
    const again = await serve(db, await freePort());
    try {
      for (const id of ackedTasks) {
        const res = await fetch(`${again.proc.url}/api/v1/tasks/${id}`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        expect(res.status, id).toBe(200);
      }
      const offsets: number[] = [];
      let since = '';
      for (let page = 0; page < 20; page++) {
        const url = `${again.proc.url}/api/v1/channels/room:burst/history?limit=1000${since ? `&since=${since}` : ''}`;
        const h = (await (await fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as {
          epoch: string;
          events: Array<{ offset: number }>;
        };
        if (page === 0) {
          // The first page without `since` is the latest 1,000: start from the beginning instead.
          since = `${h.epoch}:0`;
          continue;
        }
        offsets.push(...h.events.map((e) => e.offset));
        const last = h.events.at(-1);
        if (!last) break;
        since = `${h.epoch}:${last.offset}`;
      }
      expect(offsets).toEqual(ackedPublishes);
    } finally {
      again.proc.child.kill('SIGTERM');
      await exitWithin(again.proc, 15_000);
    }
  });
});
