/**
 * Webhooks that survive what a real node meets (issue 13): the server SIGKILLed
 * between the task change and the delivery, on SQLite, delivers after its restart
 * with the same webhook-id; 1,000 task changes with the server killed at random
 * moments lose no webhook of a change the server answered; a receiver that never
 * answers holds at most the sender's bound of requests while 10,000 messages wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { TUNING } from '../src/config/options.js';
import { freePort, killAll, startServe, type ServeProcess } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';
import { SECRET, receiver } from './helpers/webhook-receiver.js';
import { eventually } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-webhooks-durable-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

const API_KEY = 'webhook-durability-api-key-0123456789';

function serveArgs(port: number, db: string, hook: string): string[] {
  return [
    '--dev',
    '--port',
    String(port),
    '--db',
    db,
    '--api-key',
    API_KEY,
    '--log-level',
    'warn',
    '--webhook-url',
    hook,
    '--webhook-secret',
    SECRET,
    '--webhook-retry-schedule',
    '100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
    '--webhook-timeout-ms',
    '300',
  ];
}

/** One call with the API key; rejects on a network error (the server may be dead). */
async function call(base: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  return res.status;
}

async function kill(p: ServeProcess): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

describe('webhooks across SIGKILL (SQLite, the built CLI)', () => {
  it('a message claimed by a node killed mid-delivery is delivered after the restart, with the same id', async () => {
    const hook = await receiver();
    hook.setAnswer(() => 'hang');
    const port = await freePort();
    const db = join(dir, 'kill.db');
    let server = await startServe(serveArgs(port, db, hook.url));
    for (let i = 0; i < 20; i++) {
      expect(await call(server.url, 'POST', '/tasks', { id: `k${i}`, owner: 'ada' })).toBe(201);
      expect(await call(server.url, 'POST', `/tasks/k${i}/cancel`)).toBe(200);
    }
    await eventually(() => hook.got.length >= 1, 'a request in flight');
    await kill(server);
    const before = new Set(hook.got.map((r) => r.id));
    const mark = hook.got.length;
    hook.setAnswer(() => 200);
    server = await startServe(serveArgs(port, db, hook.url));
    // After the restart every message goes out, answered 200: those the dead node had
    // tried too (once its leases ran out: timeout + 5 s), with the same id.
    const after = (): Set<string> => new Set(hook.got.slice(mark).map((r) => r.id));
    await eventually(() => after().size === 20, 'all 20 delivered after the restart', 30_000);
    for (const id of before) expect(after().has(id), id).toBe(true);
    expect(new Set(hook.got.map((r) => r.id)).size).toBe(20);
    expect(hook.got.every((r) => r.verified)).toBe(true);
    await kill(server);
    await hook.close();
  }, 60_000);

  it('1,000 task changes with the server killed at random: every change answered has its webhook', async () => {
    const hook = await receiver();
    const port = await freePort();
    const db = join(dir, 'random.db');
    let server = await startServe(serveArgs(port, db, hook.url));
    const answered: string[] = [];
    let kills = 0;
    const deadline = Date.now() + 40_000;
    for (let i = 0; i < 500 && Date.now() < deadline; i++) {
      const id = `r${i}`;
      try {
        if ((await call(server.url, 'POST', '/tasks', { id, owner: 'ada' })) !== 201) continue;
        if ((await call(server.url, 'POST', `/tasks/${id}/cancel`)) === 200) answered.push(id);
      } catch {
        // The server was killed under this request: it may or may not have applied it.
      }
      if (kills < 4 && Math.random() < 0.01) {
        kills += 1;
        await kill(server);
        server = await startServe(serveArgs(port, db, hook.url));
      }
    }
    await eventually(
      () => {
        const seen = new Set(hook.got.map((r) => r.payload.data.task.id));
        return answered.every((id) => seen.has(id));
      },
      'every answered cancel delivered',
      30_000,
    );
    const ids = hook.got.map((r) => r.payload.data.task.id);
    expect(answered.length).toBeGreaterThan(400);
    for (const id of new Set(ids))
      expect(hook.got.find((r) => r.payload.data.task.id === id)?.type).toBe('task.cancelled');
    expect(hook.got.every((r) => r.verified)).toBe(true);
    console.log(`webhooks: ${answered.length} answered cancels, ${kills} kills, ${hook.got.length} requests`);
    await kill(server);
    await hook.close();
  }, 120_000);
});

describe('a receiver that never answers', () => {
  it('holds at most the sender’s bound of requests while 10,000 messages wait in the outbox', async () => {
    const hook = await receiver();
    hook.setAnswer(() => 'hang');
    const t = await startTestServer({
      engine: 'sqlite',
      db: join(dir, 'bound.db'),
      webhookUrls: hook.url,
      webhookSecret: SECRET,
      webhookTimeoutMs: 60_000, // no attempt gives up during the test: the 16 held are the bound
    });
    try {
      const tasks = t.server.ctx.tasks;
      for (let i = 0; i < 10_000; i++) {
        await tasks.create({ id: `b${i}`, owner: 'ada' });
        await tasks.cancel(`b${i}`);
        if (i % 1000 === 0) await sleep(0);
      }
      const outbox = t.server.ctx.engine.outbox;
      await eventually(() => hook.maxOpen() >= TUNING.webhookConcurrency, 'the sender at its bound');
      await sleep(2000); // four more polls of the outbox: none adds a request
      expect(hook.maxOpen()).toBe(TUNING.webhookConcurrency);
      expect(hook.got).toHaveLength(TUNING.webhookConcurrency);
      expect((await outbox?.counts())?.pending).toBe(10_000);
    } finally {
      await hook.close(); // the held requests fail at once, so the server closes without waiting for them
      await t.close();
    }
  }, 120_000);
});
