/**
 * Webhooks with several nodes on one Redis (protocol 1.1 §8): a real receiver on
 * 127.0.0.1 checks every signature with the Standard Webhooks scheme written from
 * the spec (the server tests' helper), and that no message is ever in flight from two senders at once.
 * Every message is delivered; and when the node holding a message's lease is
 * SIGKILLed mid-delivery (the receiver never answers it), the other node delivers it
 * once the lease has expired, with the same webhook-id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { API_KEY, JWT_SECRET, closeAllNodes, sleep, startNode, until, type TaskwireNode } from './helpers/nodes.js';
import { startCluster, startRedis, stopAllRedis } from './helpers/redis.js';
import type { RedisEngineOptions } from '../src/index.js';
// The same check of the Standard Webhooks scheme, written from the spec, as the server's own tests.
import { SECRET, independentlyVerified } from '../../server/test/helpers/webhook-receiver.js';

const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await closeAllNodes();
  await Promise.all(receivers.map((r) => r.close()));
  await stopAllRedis();
});

interface Hit {
  id: string;
  type: string;
  taskId: string;
  at: number;
  verified: boolean;
}

interface Receiver {
  url: string;
  hits: Hit[];
  /** Requests of one message in flight at the same time (must stay 0). */
  overlaps: number;
  /** A status to answer after `delayMs`, or 'hang' (never answer). */
  answer: (h: Hit) => { status: number; delayMs: number } | 'hang';
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const inFlight = new Set<string>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const payload = JSON.parse(body) as { type: string; data: { task: { id: string } } };
      const hit: Hit = {
        id: String(req.headers['webhook-id']),
        type: payload.type,
        taskId: payload.data.task.id,
        at: Date.now(),
        verified: independentlyVerified(req.headers, body),
      };
      r.hits.push(hit);
      if (inFlight.has(hit.id)) r.overlaps += 1;
      inFlight.add(hit.id);
      req.socket.once('close', () => inFlight.delete(hit.id));
      const a = r.answer(hit);
      if (a === 'hang') return;
      setTimeout(() => {
        inFlight.delete(hit.id);
        res.writeHead(a.status).end();
      }, a.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Receiver = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`,
    hits: [],
    overlaps: 0,
    answer: () => ({ status: 200, delayMs: 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(r);
  return r;
}

const hooks = (rx: Receiver, timeoutMs: number) => ({
  webhookUrls: rx.url,
  webhookSecret: SECRET,
  webhookTimeoutMs: timeoutMs,
  webhookRetrySchedule: '200ms,400ms,800ms',
});

async function ok(node: TaskwireNode, method: string, path: string, body?: unknown): Promise<void> {
  const res = await node.api(method, path, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
}

/** Every message the outbox holds with `status` (paged through the API). */
async function messages(node: TaskwireNode, status: string): Promise<Array<{ id: string; attempts: unknown[] }>> {
  const out: Array<{ id: string; attempts: unknown[] }> = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const q: string = cursor === null ? '' : `&cursor=${cursor}`;
    const res = await node.api('GET', `/webhooks/messages?status=${status}&limit=100${q}`);
    expect(res.status).toBe(200);
    out.push(...(res.body.messages as Array<{ id: string; attempts: unknown[] }>));
    cursor = res.body.nextCursor as string | null;
    if (cursor === null) break;
  }
  return out;
}

describe('webhooks across nodes', () => {
  it.each([
    ['one Redis', async (): Promise<RedisEngineOptions> => ({ url: (await startRedis()).url, prefix: 'wh' })],
    [
      'a 3-master Cluster',
      async (): Promise<RedisEngineOptions> => ({ cluster: (await startCluster()).urls, prefix: 'wh' }),
    ],
  ] as const)(
    'two nodes on %s deliver every message once, never the same one from both at a time, in order per task',
    async (_, redis) => {
      const engine = await redis();
      const rx = await receiver();
      rx.answer = () => ({ status: 200, delayMs: 5 + Math.floor(Math.random() * 20) });
      const nodes = await Promise.all(['A', 'B'].map((n) => startNode(n, engine, hooks(rx, 2000))));
      const tasks = Array.from({ length: 30 }, (_, i) => `hook-${i}`);
      await Promise.all(
        tasks.map(async (id, i) => {
          const node = nodes[i % 2]!;
          const other = nodes[(i + 1) % 2]!;
          await ok(node, 'POST', '/tasks', { id, owner: 'hana' });
          await ok(other, 'POST', `/tasks/${id}/approval`, { prompt: 'Go?' });
          await ok(node, 'POST', `/tasks/${id}/decision`, { decision: 'approve' });
          await ok(other, 'PATCH', `/tasks/${id}`, { status: 'succeeded', result: { i } });
        }),
      );
      const types = ['task.approval_requested', 'task.approval_decided', 'task.succeeded'];
      await until(() => rx.hits.length >= tasks.length * types.length, 'every message delivered', 30_000);
      await until(async () => (await messages(nodes[0]!, 'pending')).length === 0, 'nothing pending');
      await sleep(300); // a duplicate would show by now

      expect(rx.overlaps).toBe(0);
      expect(rx.hits.every((h) => h.verified)).toBe(true);
      expect(new Set(rx.hits.map((h) => h.id)).size).toBe(rx.hits.length);
      for (const id of tasks) expect(rx.hits.filter((h) => h.taskId === id).map((h) => h.type)).toEqual(types);
      const delivered = await messages(nodes[1]!, 'delivered');
      expect(delivered).toHaveLength(tasks.length * types.length);
      expect(new Set(delivered.map((m) => m.id))).toEqual(new Set(rx.hits.map((h) => h.id)));
      const metrics = await Promise.all(nodes.map((n) => fetch(`${n.url}/metrics`).then((r) => r.text())));
      const sent = metrics.map((m) => Number(/^taskwire_webhooks_delivered_total (\d+)/m.exec(m)?.[1] ?? NaN));
      expect(sent[0]! + sent[1]!).toBe(delivered.length);
    },
    60_000,
  );

  it('a node SIGKILLed mid-delivery: the other node delivers the message after the lease, same webhook-id', async () => {
    const dist = new URL('../dist/index.js', import.meta.url);
    if (!existsSync(dist)) throw new Error('build first (npx tsc -b): the killed node runs packages/engine-redis/dist');
    const redis = await startRedis();
    const rx = await receiver();
    // The first request (the doomed node's) never gets an answer; later ones do.
    rx.answer = () => (rx.hits.length === 1 ? 'hang' : { status: 200, delayMs: 0 });
    const timeoutMs = 3000; // the lease: timeout + 5 s
    const child = spawn(
      process.execPath,
      [
        new URL('./fixtures/node-main.mjs', import.meta.url).pathname,
        redis.url,
        JWT_SECRET,
        API_KEY,
        JSON.stringify(hooks(rx, timeoutMs)),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`node exited early (${code})`)));
    });
    const doomedUrl = (JSON.parse(line) as { url: string }).url;
    const post = (path: string, body: unknown) =>
      fetch(`${doomedUrl}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/tasks', { id: 'doomed-hook', owner: 'ivo' })).status).toBe(201);
    expect((await post('/tasks/doomed-hook/cancel', {})).status).toBe(200);
    await until(() => rx.hits.length === 1, 'the doomed node sends');
    // The survivor runs beside it now: the message is leased, so it waits.
    const b = await startNode('B', { url: redis.url, prefix: 'fo' }, hooks(rx, timeoutMs));
    const first = rx.hits[0]!;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    await until(() => rx.hits.length >= 2, 'the survivor delivers it', 20_000);
    const second = rx.hits[1]!;
    expect(first).toMatchObject({ type: 'task.cancelled', taskId: 'doomed-hook', verified: true });
    expect(second).toMatchObject({ id: first.id, type: 'task.cancelled', verified: true });
    // Not before the doomed node's lease ran out.
    expect(second.at - first.at).toBeGreaterThanOrEqual(timeoutMs + 5000 - 500);
    expect(rx.overlaps).toBe(0);
    await until(async () => (await messages(b, 'delivered')).length === 1, 'recorded as delivered');
    const [m] = await messages(b, 'delivered');
    expect(m).toMatchObject({ id: first.id, attempts: [{ status: 200 }] });
    expect(await messages(b, 'pending')).toEqual([]);
  }, 60_000);
});
