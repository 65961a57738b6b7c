import Fastify, { type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { taskwirePlugin } from '../src/app/plugin.js';
import { startTestServer, TEST_API_KEY, TEST_JWT_SECRET, type TestServer } from './helpers/server.js';
import { TestClient, type Frame } from './helpers/ws-client.js';

let t: TestServer;
let alice: string;
let bob: string;
let admin: string;
let seq = 0;
const uid = (p: string): string => `${p}-${++seq}-${Date.now().toString(36)}`;

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.token({ sub: 'alice' });
  bob = await t.token({ sub: 'bob' });
  admin = await t.token({ sub: 'root', admin: true });
});
afterAll(async () => {
  await t.close();
});

async function createTask(owner = 'alice', extra: Record<string, unknown> = {}): Promise<Frame> {
  const res = await t.api('POST', '/tasks', { id: uid('t'), owner, ...extra });
  expect(res.status).toBe(201);
  return res.body as Frame;
}

describe('routes', () => {
  it('failure mode 1: exactly one WebSocket route, at /api/v1/ws, and no doubled prefix', async () => {
    const routes: RouteOptions[] = [];
    const app = Fastify();
    app.addHook('onRoute', (r) => {
      // Fastify adds a HEAD twin for every GET route; count the routes as registered.
      if (r.method !== 'HEAD') routes.push(r);
    });
    await app.register(taskwirePlugin, {
      engine: 'memory',
      jwtSecret: TEST_JWT_SECRET,
      apiKey: TEST_API_KEY,
      logLevel: 'silent',
    });
    await app.ready();
    try {
      // The upgrade is taken for exactly the one route's path (ws/endpoint.ts): one route, one listener.
      expect(app.server.listenerCount('upgrade')).toBe(1);
      // @fastify/static (the dashboard) registers its routes with `path` rather than `url`.
      const urls = routes.map((r) => r.url ?? (r as RouteOptions & { path?: string }).path ?? '');
      expect(urls.filter((u) => u.includes('/ws'))).toEqual(['/api/v1/ws']);
      for (const u of urls) {
        expect(u).not.toMatch(/\/api\/v1\/api\/v1|\/\//);
        // The dashboard's files (`/`, `/index.html`, `/assets/…`) are the only other routes.
        const dashboard = u === '/' || u === '/index.html' || u.startsWith('/assets/');
        expect(
          u === '/healthz' ||
            u === '/readyz' ||
            u === '/metrics' ||
            u.startsWith('/docs') ||
            u.startsWith('/api/v1/') ||
            dashboard,
          u,
        ).toBe(true);
      }
    } finally {
      await app.close();
    }
    // The same on the standalone server, seen from its route table and from the outside.
    const table = t.server.app.printRoutes({ commonPrefix: false });
    // With the dashboard's `/` the table prints `/` once and the routes below it without it.
    expect(table.match(/api\/v1\/ws\b/g)).toHaveLength(1);
    expect(table).not.toContain('api/v1/api/v1');
    expect((await fetch(`${t.url}/api/v1/ws`)).status).toBe(426);
    expect((await t.api('GET', '/api/v1/api/v1/ws')).status).toBe(404);
    // An upgrade anywhere else is refused with 404, never left hanging.
    for (const path of ['/api/v1/api/v1/ws', '/ws', '/api/v1/ws/x']) {
      const refused = await new Promise<number>((resolve, reject) => {
        const c = new WebSocket(`${t.wsUrl.replace(/\/api\/v1\/ws$/, '')}${path}`);
        c.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        c.on('open', () => reject(new Error(`${path} upgraded`)));
        c.on('error', () => undefined);
      });
      expect(refused, path).toBe(404);
    }
  });

  it('GET /healthz and GET /readyz (503 with an error body when the engine is down)', async () => {
    expect(await t.api('GET', '/healthz', undefined, { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect((await t.api('GET', '/readyz', undefined, { token: null })).status).toBe(200);
    const engine = t.server.ctx.engine;
    const ping = engine.ping.bind(engine);
    engine.ping = () => Promise.reject(new Error('down'));
    try {
      const res = await t.api('GET', '/readyz', undefined, { token: null });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
    } finally {
      engine.ping = ping;
    }
  });

  it('unknown routes answer 404 not_found, in and out of /api/v1', async () => {
    for (const path of ['/api/v1/nope', '/nope']) {
      const res = await t.api('GET', path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('GET /stats needs an admin token or the API key', async () => {
    const res = await t.api('GET', '/stats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      connections: expect.any(Number),
      subscriptions: expect.any(Number),
      slowConsumerCloses: 0,
    });
    expect((await t.api('GET', '/stats', undefined, { token: admin })).status).toBe(200);
    expect((await t.api('GET', '/stats', undefined, { token: alice })).body.error.code).toBe('forbidden');
    expect((await t.api('GET', '/stats', undefined, { token: null })).status).toBe(401);
  });
});

describe('task routes', () => {
  it('POST /tasks creates (201), repeats with the same Idempotency-Key (200, same snapshot, no new event), 409 on an existing id', async () => {
    const id = uid('idem');
    const key = uid('key');
    const first = await t.api(
      'POST',
      '/tasks',
      { id, owner: 'alice', title: 'Build' },
      { headers: { 'idempotency-key': key } },
    );
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id, owner: 'alice', title: 'Build', status: 'queued', version: 1 });
    const again = await t.api(
      'POST',
      '/tasks',
      { id, owner: 'alice', title: 'Build' },
      { headers: { 'idempotency-key': key } },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const history = await t.api('GET', `/channels/task:${id}/history`);
    expect(history.body.events).toHaveLength(1);
    const dup = await t.api('POST', '/tasks', { id, owner: 'alice' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('conflict');
    const generated = await t.api('POST', '/tasks', { owner: 'alice' });
    expect(generated.status).toBe(201);
    expect(generated.body.id).toMatch(/^[A-Za-z0-9_.\-@]+$/);
  });

  it('backend routes need the API key: a client token gets 403, no credentials 401', async () => {
    const task = await createTask();
    for (const [method, path, body] of [
      ['POST', '/tasks', { owner: 'alice' }],
      ['PATCH', `/tasks/${task.id}`, { progress: 1 }],
      ['POST', `/tasks/${task.id}/logs`, { lines: ['x'] }],
      ['POST', `/tasks/${task.id}/approval`, { prompt: 'ok?' }],
    ] as const) {
      const asUser = await t.api(method, path, body, { token: alice });
      expect(asUser.status, `${method} ${path}`).toBe(403);
      expect(asUser.body.error.code).toBe('forbidden');
      expect((await t.api(method, path, body, { token: admin })).status).toBe(403);
      const anon = await t.api(method, path, body, { token: null });
      expect(anon.status).toBe(401);
      expect(anon.body.error.code).toBe('unauthorized');
    }
  });

  it('PATCH, logs, approval, decision and cancel walk a task through its life; terminal is final (409)', async () => {
    const task = await createTask('alice', { title: 'Life' });
    const running = await t.api('PATCH', `/tasks/${task.id}`, {
      status: 'running',
      progress: 10,
      stage: 'a',
      message: 'm',
    });
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({ status: 'running', progress: 10, stage: 'a', message: 'm', version: 2 });
    const logs = await t.api('POST', `/tasks/${task.id}/logs`, { lines: ['one', 'two'] });
    expect(logs.status).toBe(200);
    expect(logs.body.version).toBe(2);
    const noPending = await t.api('POST', `/tasks/${task.id}/decision`, { decision: 'approve' }, { token: alice });
    expect(noPending.status).toBe(409);
    const asked = await t.api('POST', `/tasks/${task.id}/approval`, {
      prompt: 'Ship it?',
      options: ['approve', 'reject'],
    });
    expect(asked.body).toMatchObject({ status: 'awaiting_approval', approval: { prompt: 'Ship it?', decision: null } });
    const decided = await t.api(
      'POST',
      `/tasks/${task.id}/decision`,
      { decision: 'approve', comment: 'go' },
      { token: alice },
    );
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({
      status: 'running',
      approval: { decision: 'approve', decidedBy: 'alice', comment: 'go' },
    });
    const got = await t.api('GET', `/tasks/${task.id}`, undefined, { token: alice });
    expect(got.body).toEqual(decided.body);
    const cancelled = await t.api('POST', `/tasks/${task.id}/cancel`, undefined, { token: alice });
    expect(cancelled.body.status).toBe('cancelled');
    for (const [method, path, body] of [
      ['PATCH', `/tasks/${task.id}`, { progress: 50 }],
      ['POST', `/tasks/${task.id}/cancel`, undefined],
      ['POST', `/tasks/${task.id}/approval`, { prompt: 'again?' }],
    ] as const) {
      const res = await t.api(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(409);
      expect(res.body.error.code).toBe('conflict');
    }
    // An empty JSON body is no body (curl -H 'Content-Type: application/json' -X POST …/cancel).
    const other = await createTask();
    const res = await fetch(`${t.url}/api/v1/tasks/${other.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
  });

  it('GET /tasks lists newest first with a cursor; a user sees only their own', async () => {
    const owner = uid('lister');
    const ids: string[] = [];
    // Tasks created within one millisecond tie on createdAt and are ordered by id: use ascending ids.
    for (let i = 0; i < 5; i++) ids.push((await createTask(owner, { id: `${owner}-${i}` })).id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/tasks?owner=${owner}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await t.api('GET', q);
      expect(page.status).toBe(200);
      expect(page.body.tasks.length).toBeLessThanOrEqual(2);
      seen.push(...(page.body.tasks as Frame[]).map((x) => x.id as string));
      cursor = page.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
    const token = await t.token({ sub: owner });
    const mine = await t.api('GET', '/tasks?limit=500', undefined, { token });
    expect((mine.body.tasks as Frame[]).map((x) => x.id as string)).toEqual([...ids].reverse());
    const running = await t.api('GET', `/tasks?owner=${owner}&status=running`);
    expect(running.body.tasks).toEqual([]);
  });

  it('answers 400 bad_request on every field over its limit, 413 on a body over 1 MiB', async () => {
    const task = await createTask();
    const big = { blob: 'x'.repeat(65 * 1024) };
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/tasks', { owner: 'alice', title: 'x'.repeat(201) }, /^title must not have more than 200 characters$/],
      ['POST', '/tasks', { owner: 'alice', meta: big }, /meta/],
      ['POST', '/tasks', { owner: 'bad owner!' }, /owner/],
      ['POST', '/tasks', { owner: 'alice', stallTimeoutMs: -1 }, /stallTimeoutMs/],
      ['POST', '/tasks', { owner: 'alice', extra: 1 }, /^unknown field extra$/],
      ['PATCH', `/tasks/${task.id}`, { stage: 'x'.repeat(101) }, /stage/],
      ['PATCH', `/tasks/${task.id}`, { message: 'x'.repeat(1001) }, /message/],
      ['PATCH', `/tasks/${task.id}`, { result: big }, /result/],
      ['PATCH', `/tasks/${task.id}`, { meta: big }, /meta/],
      ['PATCH', `/tasks/${task.id}`, { progress: 101 }, /progress/],
      ['PATCH', `/tasks/${task.id}`, { status: 'exploded' }, /^status must be one of queued, running, /],
      ['POST', `/tasks/${task.id}/logs`, { lines: Array.from({ length: 101 }, () => 'l') }, /lines/],
      ['POST', `/tasks/${task.id}/logs`, { lines: ['x'.repeat(4097)] }, /lines/],
      ['POST', `/tasks/${task.id}/logs`, { lines: ['€'.repeat(1400)] }, /lines\[0\]/],
      ['POST', `/tasks/${task.id}/logs`, { lines: [] }, /lines/],
      ['POST', `/tasks/${task.id}/approval`, { prompt: '' }, /prompt/],
      ['POST', '/channels/room:x/publish', { data: big }, /data/],
      ['POST', '/channels/room:x/publish', {}, /data/],
      ['GET', '/tasks?limit=0', undefined, /limit/],
      ['GET', '/channels/room:x/history?since=nope', undefined, /since/],
      ['POST', '/tasks', '{"owner":', /JSON/],
    ];
    for (const [method, path, body, re] of cases) {
      const res = await t.api(method, path, body);
      expect(res.status, `${method} ${path} ${String(JSON.stringify(body)).slice(0, 60)}`).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(res.body.error.message).toMatch(re);
    }
    const tooBig = await t.api('POST', '/tasks', { owner: 'alice', meta: { blob: 'x'.repeat(1024 * 1024 + 10) } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('too_large');
    const badKey = await t.api(
      'POST',
      '/tasks',
      { owner: 'alice' },
      { headers: { 'idempotency-key': 'k'.repeat(201) } },
    );
    expect(badKey.status).toBe(400);
    const badId = await t.api('GET', '/tasks/bad%20id');
    expect(badId.status).toBe(400);
  });

  it('failure mode 13: a missing task is 404 not_found, never a forever-queued task', async () => {
    for (const [method, path, body, token] of [
      ['GET', '/tasks/never-created', undefined, undefined],
      ['PATCH', '/tasks/never-created', { progress: 1 }, undefined],
      ['POST', '/tasks/never-created/logs', { lines: ['x'] }, undefined],
      ['POST', '/tasks/never-created/approval', { prompt: 'p' }, undefined],
      ['POST', '/tasks/never-created/decision', { decision: 'approve' }, alice],
      ['POST', '/tasks/never-created/cancel', undefined, alice],
      ['GET', '/tasks/never-created', undefined, alice],
      ['GET', '/channels/task:never-created/history', undefined, alice],
    ] as const) {
      const res = await t.api(method, path, body, token === undefined ? {} : { token });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const c = await TestClient.authed(t.wsUrl, alice);
    try {
      const reply = await c.request({ op: 'subscribe', channel: 'task:never-created' });
      expect(reply.error.code).toBe('not_found');
    } finally {
      c.close();
    }
  });
});

describe('channel routes', () => {
  it('POST /channels/:channel/publish returns {epoch, offset}; idempotencyKey repeats; history with and without since', async () => {
    const ch = `room:${uid('r')}`;
    const p1 = await t.api('POST', `/channels/${ch}/publish`, { data: { n: 1 } });
    expect(p1.status).toBe(200);
    expect(p1.body).toEqual({ epoch: expect.any(String), offset: 1 });
    const p2 = await t.api('POST', `/channels/${ch}/publish`, { data: { n: 2 }, idempotencyKey: 'k1' });
    const p2again = await t.api('POST', `/channels/${ch}/publish`, { data: { n: 2 }, idempotencyKey: 'k1' });
    expect(p2again.body).toEqual(p2.body);
    await t.api('POST', `/channels/${ch}/publish`, { data: { n: 3 } });
    const all = await t.api('GET', `/channels/${ch}/history?limit=2`);
    expect(all.body).toMatchObject({ channel: ch, epoch: p1.body.epoch, offset: 3, recovered: true });
    expect((all.body.events as Frame[]).map((e) => (e.data as { n: number }).n)).toEqual([2, 3]);
    expect(all.body.events[0]).toMatchObject({
      type: 'event',
      channel: ch,
      epoch: p1.body.epoch,
      offset: 2,
      time: expect.any(Number),
    });
    const since = await t.api('GET', `/channels/${ch}/history?since=${p1.body.epoch}:1`);
    expect((since.body.events as Frame[]).map((e) => e.offset as number)).toEqual([2, 3]);
    expect(since.body.recovered).toBe(true);
    const otherEpoch = await t.api('GET', `/channels/${ch}/history?since=zzz:1`);
    expect(otherEpoch.body).toMatchObject({ recovered: false, events: [], offset: 3 });
  });

  it('publish permissions: never on task channels; a client only where its publish patterns match', async () => {
    const task = await createTask();
    const onTask = await t.api('POST', `/channels/task:${task.id}/publish`, { data: 1 });
    expect(onTask.status).toBe(403);
    expect(onTask.body.error.message).toMatch(/task API/);
    const pub = await t.token({ sub: 'carol', publish: ['room:chat-*'] });
    expect((await t.api('POST', '/channels/room:chat-1/publish', { data: 1 }, { token: pub })).status).toBe(200);
    expect((await t.api('POST', '/channels/room:other/publish', { data: 1 }, { token: pub })).status).toBe(403);
    expect((await t.api('POST', '/channels/user:carol/publish', { data: 1 }, { token: pub })).status).toBe(403);
    expect((await t.api('POST', '/channels/user:carol/publish', { data: 1 }, { token: admin })).status).toBe(200);
    expect((await t.api('POST', '/channels/nope/publish', { data: 1 })).status).toBe(400);
  });
});

describe('isolation and consistency', () => {
  it('failure mode 10: a user cannot subscribe to, read, list, decide or cancel another user’s tasks', async () => {
    const task = await createTask('alice');
    await t.api('POST', `/tasks/${task.id}/approval`, { prompt: 'ok?' });
    const asBob = { token: bob };
    for (const [method, path, body] of [
      ['GET', `/tasks/${task.id}`, undefined],
      ['POST', `/tasks/${task.id}/decision`, { decision: 'approve' }],
      ['POST', `/tasks/${task.id}/cancel`, undefined],
      ['GET', `/channels/task:${task.id}/history`, undefined],
    ] as const) {
      const res = await t.api(method, path, body, asBob);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const list = await t.api('GET', '/tasks?owner=alice', undefined, asBob);
    expect(list.status).toBe(403);
    expect(list.body.error.code).toBe('forbidden');
    const own = await t.api('GET', '/tasks?limit=500', undefined, asBob);
    expect((own.body.tasks as Frame[]).every((x) => x.owner === 'bob')).toBe(true);
    expect((await t.api('GET', '/channels/user:alice/history', undefined, asBob)).status).toBe(403);
    const c = await TestClient.authed(t.wsUrl, bob);
    try {
      expect((await c.request({ op: 'subscribe', channel: `task:${task.id}` })).error.code).toBe('not_found');
      expect((await c.request({ op: 'subscribe', channel: 'user:alice' })).error.code).toBe('forbidden');
    } finally {
      c.close();
    }
    // The task is untouched, and alice and an admin still see it.
    const mine = await t.api('GET', `/tasks/${task.id}`, undefined, { token: alice });
    expect(mine.body).toMatchObject({ status: 'awaiting_approval', version: 2 });
    expect((await t.api('GET', `/tasks/${task.id}`, undefined, { token: admin })).status).toBe(200);
    expect((await t.api('POST', `/tasks/${task.id}/cancel`, undefined, { token: admin })).body.status).toBe(
      'cancelled',
    );
  });

  it('failure mode 12: the HTTP snapshot and the last pushed WebSocket event carry the same version', async () => {
    const task = await createTask('alice');
    const c = await TestClient.authed(t.wsUrl, alice);
    try {
      const reply = await c.request({ op: 'subscribe', channel: `task:${task.id}` });
      expect(reply.result.snapshot.version).toBe(1);
      let last = 1;
      for (let i = 1; i <= 5; i++) {
        const res = await t.api('PATCH', `/tasks/${task.id}`, { status: 'running', progress: i * 10 });
        last = res.body.version as number;
      }
      const pushed = await c.next(
        (f) => f.type === 'event' && f.data.task?.version === last,
        `event with version ${last}`,
      );
      const polled = await t.api('GET', `/tasks/${task.id}`, undefined, { token: alice });
      expect(polled.body.version).toBe(pushed.data.task.version);
      expect(polled.body).toEqual(pushed.data.task);
    } finally {
      c.close();
    }
  });
});

describe('stall detection', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ stallSweepMs: 20 });
  });
  afterAll(async () => {
    await s.close();
  });

  it('failure mode 14: a running task with a short stallTimeoutMs becomes stalled, an event is pushed, the next update makes it running', async () => {
    const created = await s.api('POST', '/tasks', { id: 'stally', owner: 'alice', stallTimeoutMs: 100 });
    expect(created.status).toBe(201);
    const c = await TestClient.authed(s.wsUrl, await s.token({ sub: 'alice' }));
    try {
      await c.request({ op: 'subscribe', channel: 'task:stally' });
      await s.api('PATCH', '/tasks/stally', { status: 'running', progress: 5 });
      const stalled = await c.next((f) => f.type === 'event' && f.data.task?.status === 'stalled', 'a stalled event');
      expect(stalled.data.kind).toBe('task.updated');
      expect((await s.api('GET', '/tasks/stally')).body.status).toBe('stalled');
      const resumed = await s.api('PATCH', '/tasks/stally', { progress: 6 });
      expect(resumed.body).toMatchObject({ status: 'running', progress: 6 });
      const pushed = await c.next(
        (f) => f.type === 'event' && f.data.task?.version === resumed.body.version,
        'the running event',
      );
      expect(pushed.data.task.status).toBe('running');
    } finally {
      c.close();
    }
  });
});
