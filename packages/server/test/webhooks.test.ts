/**
 * Webhooks (protocol 1.1 §8) against a real receiver on 127.0.0.1: every event type
 * of a scripted task life, each body exactly as specified, every signature checked
 * by an implementation of the Standard Webhooks scheme written here from the spec
 * (and by the client's verifyWebhook); retries with the same id; failure after the
 * schedule, the retry route, 410; order per task; the outbox list. SQLite and memory.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task, WebhookMessage } from '@taskwire/protocol';
import { verifyWebhook } from '../../client/src/backend/webhook.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SECRET, receiver, type Received } from './helpers/webhook-receiver.js';
import { eventually } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-webhooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['sqlite', 'memory'] as const)('webhooks (%s)', (engine) => {
  let t: TestServer;
  let hook: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    hook = await receiver();
    t = await startTestServer({
      engine,
      db: join(dir, `${engine}.db`),
      webhookUrls: hook.url,
      webhookSecret: SECRET,
      webhookRetrySchedule: '100ms,200ms,300ms',
      webhookTimeoutMs: 500,
      stallSweepMs: 50,
    });
  });
  afterAll(async () => {
    await t.close();
    await hook.close();
  });

  const ok = async (method: string, path: string, body?: unknown): Promise<Task> => {
    const res = await t.api(method, path, body);
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body as Task;
  };
  const of = (taskId: string): Received[] => hook.got.filter((r) => r.payload.data.task.id === taskId);

  it('sends every event type of a scripted task life, each exactly as specified and signed', async () => {
    hook.setAnswer(() => 200);
    await ok('POST', '/tasks', { id: 'ask', owner: 'ada' });
    const asked = await ok('POST', '/tasks/ask/approval', { prompt: 'Ship it?', options: ['approve', 'reject'] });
    const approved = await ok('POST', '/tasks/ask/decision', { decision: 'approve' });
    await ok('POST', '/tasks', { id: 'nope', owner: 'ada' });
    await ok('POST', '/tasks/nope/approval', { prompt: 'Ship it?' });
    await ok('POST', '/tasks/nope/decision', { decision: 'reject', comment: 'not yet' });
    await ok('POST', '/tasks', { id: 'stop', owner: 'ada' });
    const cancelled = await ok('POST', '/tasks/stop/cancel');
    await ok('POST', '/tasks', { id: 'quiet', owner: 'ada', stallTimeoutMs: 100 });
    await ok('PATCH', '/tasks/quiet', { progress: 1 });
    await ok('POST', '/tasks', { id: 'boom', owner: 'ada' });
    await ok('PATCH', '/tasks/boom', { progress: 5 });
    const failed = await ok('PATCH', '/tasks/boom', { status: 'failed', error: 'disk full' });
    await ok('POST', '/tasks', { id: 'fine', owner: 'ada' });
    await ok('PATCH', '/tasks/fine', { progress: 5 });
    const fine = await ok('PATCH', '/tasks/fine', { status: 'succeeded', result: { n: 1 } });
    await ok('POST', '/tasks', { id: 'pages', owner: 'ada', batch: { expectedChildren: 2, completeWhen: 'children' } });
    for (const i of [1, 2]) {
      await ok('POST', '/tasks', { id: `pages-${i}`, owner: 'ada', parentId: 'pages' });
      await ok('PATCH', `/tasks/pages-${i}`, { progress: 50 });
      await ok('PATCH', `/tasks/pages-${i}`, { status: 'succeeded' });
    }
    await eventually(
      () => of('quiet').length === 1 && of('pages').length === 2 && of('pages-2').length === 1,
      'all sent',
    );
    const types = (id: string): string[] => of(id).map((r) => r.type);
    expect(types('ask')).toEqual(['task.approval_requested', 'task.approval_decided']);
    expect(types('nope')).toEqual(expect.arrayContaining(['task.approval_requested', 'task.approval_decided']));
    expect(types('stop')).toEqual(['task.cancelled']);
    expect(types('quiet')).toEqual(['task.stalled']);
    expect(types('boom')).toEqual(['task.failed']);
    expect(types('fine')).toEqual(['task.succeeded']);
    expect(types('pages')).toEqual(['task.succeeded', 'batch.completed']);
    expect(types('pages-1')).toEqual(['task.succeeded']);
    // Each body exactly {type, timestamp, data: {task}} with the snapshot of that change.
    const exact = (r: Received, task: Task): void => {
      expect(JSON.parse(r.body)).toEqual({ type: r.type, timestamp: task.updatedAt, data: { task } });
    };
    exact(of('ask')[0] as Received, asked);
    exact(of('ask')[1] as Received, approved);
    exact(of('stop')[0] as Received, cancelled);
    exact(of('boom')[0] as Received, failed);
    exact(of('fine')[0] as Received, fine);
    expect(of('nope').at(-1)?.payload.data.task.approval).toMatchObject({ decision: 'reject', comment: 'not yet' });
    expect(of('pages')[1]?.payload.data.task).toMatchObject({ status: 'succeeded', children: { succeeded: 2 } });
    for (const r of hook.got) {
      expect(r.verified, `${r.type} verified independently`).toBe(true);
      expect(r.id).toMatch(/^msg_[A-Za-z0-9]{24}$/);
    }
    // The client's helper agrees, on the same bytes and headers.
    const last = hook.got.at(-1) as Received;
    const headersOf = (r: Received): Record<string, string> => {
      const key = Buffer.from(SECRET.slice(6), 'base64');
      const ts = String(Math.floor(Date.now() / 1000));
      const sig = createHmac('sha256', key).update(`${r.id}.${ts}.${r.body}`).digest('base64');
      return { 'webhook-id': r.id, 'webhook-timestamp': ts, 'webhook-signature': `v1,bogus v1,${sig}` };
    };
    expect(await verifyWebhook(last.body, headersOf(last), SECRET)).toEqual(last.payload);
    await expect(verifyWebhook(`${last.body} `, headersOf(last), SECRET)).rejects.toThrow(/no webhook-signature/);
    expect(new Set(hook.got.map((r) => r.id)).size).toBe(hook.got.length);
    const delivered = await t.api('GET', '/webhooks/messages?status=delivered&limit=200');
    expect(delivered.body.messages).toHaveLength(hook.got.length);
    expect((await t.api('GET', '/webhooks/messages')).body).toEqual({ messages: [], nextCursor: null });
  });

  it('retries a 500 with the same id until a 200; fails after the schedule; the retry route sends it again', async () => {
    let fails = 3;
    hook.setAnswer((r) => (r.payload.data.task.id === 'flaky' && fails-- > 0 ? 500 : 200));
    await ok('POST', '/tasks', { id: 'flaky', owner: 'ada' });
    await ok('POST', '/tasks/flaky/cancel');
    await eventually(() => of('flaky').length === 4, 'four attempts');
    expect(new Set(of('flaky').map((r) => r.id)).size).toBe(1);
    const list = await t.api<{ messages: WebhookMessage[] }>('GET', '/webhooks/messages?status=delivered&limit=1');
    const first = list.body.messages[0] as WebhookMessage;
    expect(first).toMatchObject({ taskId: 'flaky', status: 'delivered', nextAt: null });
    expect(first.attempts.map((a) => a.status)).toEqual([500, 500, 500, 200]);

    hook.setAnswer((r) => (r.payload.data.task.id === 'down' ? 'hang' : 200));
    await ok('POST', '/tasks', { id: 'down', owner: 'ada' });
    await ok('POST', '/tasks/down/cancel');
    await eventually(() => of('down').length === 4, 'the whole schedule', 20_000);
    let failed: { id: string; attempts: Array<{ status: null; error: string }> } | undefined;
    for (let i = 0; i < 100 && !failed; i++) {
      failed = (await t.api('GET', '/webhooks/messages?status=failed')).body.messages[0];
      if (!failed) await new Promise((r) => setTimeout(r, 50));
    }
    expect(failed?.attempts).toHaveLength(4);
    expect(failed?.attempts[0]).toMatchObject({ status: null, error: 'no answer within 500 ms' });
    const id = (failed as { id: string }).id;
    hook.setAnswer(() => 200);
    expect((await t.api('POST', `/webhooks/messages/${id}/retry`)).body).toMatchObject({ id, status: 'pending' });
    await eventually(() => of('down').length === 5, 'sent again');
    expect(of('down').at(-1)?.id).toBe(id);
    expect((await t.api('POST', `/webhooks/messages/${id}/retry`)).status).toBe(409);
    expect((await t.api('POST', '/webhooks/messages/msg_unknown/retry')).status).toBe(404);
    const user = await t.token({ sub: 'ada' });
    expect((await t.api('GET', '/webhooks/messages', undefined, { token: user })).status).toBe(403);
    expect((await t.api('POST', `/webhooks/messages/${id}/retry`, undefined, { token: user })).status).toBe(403);
    expect((await t.api('GET', '/webhooks/messages', undefined, { token: null })).status).toBe(401);
    for (const bad of ['?status=lost', '?limit=0', '?limit=abc', '?cursor=../etc', '?other=1']) {
      const res = await t.api('GET', `/webhooks/messages${bad}`);
      expect(res, bad).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
    expect((await t.api('POST', '/webhooks/messages/not-a-message-id/retry')).status).toBe(400);

    hook.setAnswer((r) => (r.payload.data.task.id === 'gone' ? 410 : 200));
    await ok('POST', '/tasks', { id: 'gone', owner: 'ada' });
    await ok('POST', '/tasks/gone/cancel');
    await eventually(() => of('gone').length === 1, 'one attempt');
    await new Promise((r) => setTimeout(r, 400)); // past the first retry delay: none comes
    expect(of('gone')).toHaveLength(1);
  });

  it('sends one task’s webhooks in the order of its changes, retries included', async () => {
    let n = 0;
    hook.setAnswer(() => (n++ % 7 === 3 ? 500 : 200));
    await ok('POST', '/tasks', { id: 'busy', owner: 'ada' });
    for (let i = 0; i < 50; i++) {
      await ok('POST', '/tasks/busy/approval', { prompt: `step ${i}?` });
      await ok('POST', '/tasks/busy/decision', { decision: 'approve' });
    }
    const done = (): Received[] => {
      const seen = new Set<string>();
      return of('busy').filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
    };
    await eventually(() => done().length === 100, '100 webhooks', 30_000);
    const versions = done().map((r) => r.payload.data.task.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    // A retry repeats the message it retries, never one after it.
    const ids = of('busy').map((r) => r.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i && ids[i - 1] !== id)).toEqual([]);
  });
});

describe('webhook options', () => {
  it('stops at start with one line naming the option', async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ webhookUrls: 'ftp://x', webhookSecret: SECRET }, /--webhook-url .*http: or https:/],
      [{ webhookUrls: 'http://127.0.0.1:1/h' }, /--webhook-secret .*required/],
      [{ webhookUrls: 'http://127.0.0.1:1/h', webhookSecret: 'whsec_c2hvcnQ=' }, /--webhook-secret .*24-64/],
      [
        { webhookUrls: 'http://127.0.0.1:1/h', webhookSecret: SECRET, webhookEvents: 'task.exploded' },
        /--webhook-events/,
      ],
      [
        { webhookUrls: 'http://127.0.0.1:1/h', webhookSecret: SECRET, webhookRetrySchedule: '5s,soon' },
        /--webhook-retry-schedule/,
      ],
    ];
    for (const [config, message] of bad) {
      await expect(startTestServer(config), JSON.stringify(config)).rejects.toThrow(message);
    }
  });
});
