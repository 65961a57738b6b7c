/** The backend client (@taskwire/client/backend) against the real server. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '@taskwire/protocol';
import { createBackend, TaskwireApiError, type FetchLike } from '../src/backend/index.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer | undefined;
let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await server?.close();
  proxy = server = undefined;
});

const FAST = { retryMinMs: 10, retryMaxMs: 50 };

function counting(): { fetch: FetchLike; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: (url, init) => {
      calls.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
      return fetch(url, init);
    },
  };
}

describe('backend client', () => {
  it('creates once even when the first answer is lost and the call is retried', async () => {
    const s = (server = await startTestServer());
    const p = (proxy = await startProxy(Number(new URL(s.url).port)));
    const tw = createBackend({ url: `http://127.0.0.1:${p.port}`, apiKey: s.apiKey, ...FAST });
    p.dropNextResponse();
    const task = await tw.createTask({ owner: 'alice', title: 'once' });
    expect(p.accepted).toBeGreaterThanOrEqual(2); // the retry came on a new connection
    const list = await s.api<{ tasks: Task[] }>('GET', '/tasks?owner=alice');
    expect(list.body.tasks.map((t) => t.id)).toEqual([task.id]);
    const feed = await s.api<{ events: unknown[] }>('GET', '/channels/user:alice/history?limit=100');
    expect(feed.body.events).toHaveLength(1);
  });

  it('creates once for a given idempotency key, from two clients', async () => {
    const s = (server = await startTestServer());
    const a = createBackend({ url: s.url, apiKey: s.apiKey });
    const b = createBackend({ url: s.url, apiKey: s.apiKey });
    const input = { owner: 'alice', id: 'keyed-1', title: 'Keyed' };
    const first = await a.createTask(input, { idempotencyKey: 'bridge:keyed-1' });
    const again = await b.createTask(input, { idempotencyKey: 'bridge:keyed-1' });
    expect(again).toEqual(first);
    const feed = await s.api<{ events: unknown[] }>('GET', '/channels/user:alice/history?limit=100');
    expect(feed.body.events).toHaveLength(1);
  });

  it('publishes once across a lost answer (generated idempotency key)', async () => {
    const s = (server = await startTestServer());
    const p = (proxy = await startProxy(Number(new URL(s.url).port)));
    const tw = createBackend({ url: `http://127.0.0.1:${p.port}/api/v1`, apiKey: s.apiKey, ...FAST });
    p.dropNextResponse();
    const pos = await tw.publish('room:lobby', { hi: 1 });
    expect(pos.offset).toBe(1);
    const h = await s.api<{ offset: number }>('GET', '/channels/room:lobby/history?limit=10');
    expect(h.body.offset).toBe(1);
  });

  it('streams across a lost answer without doubling a chunk, and reads the whole text', async () => {
    const s = (server = await startTestServer());
    const p = (proxy = await startProxy(Number(new URL(s.url).port)));
    const tw = createBackend({ url: `http://127.0.0.1:${p.port}`, apiKey: s.apiKey, ...FAST });
    const task = await tw.createTask({ owner: 'alice', title: 'essay' });
    expect(await tw.stream(task.id, 'one ')).toEqual({ stream: 'output', chunks: 1 });
    p.cutAll(); // the next request opens a connection, whose answer is lost: the client retries
    await new Promise((r) => setTimeout(r, 100));
    p.dropNextResponse();
    const before = p.accepted;
    expect(await tw.stream(task.id, 'two ')).toEqual({ stream: 'output', chunks: 2 });
    expect(p.accepted).toBeGreaterThanOrEqual(before + 2);
    expect(await tw.stream(task.id, 'three')).toEqual({ stream: 'output', chunks: 3 });
    await tw.stream(task.id, 'aside', 'notes');
    expect(await tw.readStream(task.id)).toEqual({ stream: 'output', text: 'one two three', chunks: 3 });
    // A second process picks up where the stream is: its first chunk reads the count.
    const other = createBackend({ url: s.url, apiKey: s.apiKey, ...FAST });
    expect(await other.stream(task.id, '!')).toEqual({ stream: 'output', chunks: 4 });
    expect((await tw.readStream(task.id, 'notes')).text).toBe('aside');
    // An append that fails for good after its chunk landed: the next chunk is not taken for its retry.
    const once = createBackend({ url: `http://127.0.0.1:${p.port}`, apiKey: s.apiKey, ...FAST, retries: 0 });
    await once.stream(task.id, '?');
    p.cutAll();
    await new Promise((r) => setTimeout(r, 100)); // the client sees its connection closed, not reused
    p.dropNextResponse();
    await expect(once.stream(task.id, '¿')).rejects.toMatchObject({ code: 'network' });
    await once.stream(task.id, '.');
    expect((await tw.readStream(task.id)).text).toBe('one two three!?¿.');
    const history = await s.api<{ events: Array<{ data: { kind: string } }> }>(
      'GET',
      `/channels/task:${task.id}/history?limit=100`,
    );
    expect(history.body.events.filter((e) => e.data.kind === 'task.stream')).toHaveLength(8);
  });

  it('reports progress, logs, and completes; the snapshot follows', async () => {
    const s = (server = await startTestServer());
    const tw = createBackend({ url: s.url, apiKey: s.apiKey });
    const t = await tw.createTask({ owner: 'alice', id: 'job-1', title: 'Job', stallTimeoutMs: 0 });
    expect(t.status).toBe('queued');
    expect((await tw.progress('job-1', 40, { stage: 'outline', message: '2 of 5' })).status).toBe('running');
    await tw.log('job-1', 'line 1', 'line 2');
    const done = await tw.complete('job-1', { url: 'https://example.com' });
    expect(done).toMatchObject({ status: 'succeeded', progress: 100, result: { url: 'https://example.com' } });
    expect(await tw.get('job-1')).toEqual(done);
  });

  it('asks for approval and waits for the decision without spinning', async () => {
    const s = (server = await startTestServer());
    const { fetch: f, calls } = counting();
    const tw = createBackend({ url: s.url, apiKey: s.apiKey, fetch: f });
    await tw.createTask({ owner: 'alice', id: 'ap' });
    await tw.progress('ap', 10);
    const asked = await tw.askApproval('ap', 'Ship it?', ['approve', 'reject']);
    expect(asked.status).toBe('awaiting_approval');
    const waiting = tw.waitForDecision('ap', { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1_200));
    const token = await s.token({ sub: 'alice' });
    const decided = await s.api('POST', '/tasks/ap/decision', { decision: 'approve', comment: 'go' }, { token });
    expect(decided.status).toBe(200);
    const result = await waiting;
    expect(result).toMatchObject({ decision: 'approve', comment: 'go', decidedBy: 'alice' });
    expect(result.task.status).toBe('running');
    expect(calls.length).toBeLessThan(30);
  });

  it('waitForDecision: timeout, abort, and conflict when nothing is pending', async () => {
    const s = (server = await startTestServer());
    const tw = createBackend({ url: s.url, apiKey: s.apiKey });
    await tw.createTask({ owner: 'alice', id: 'w' });
    await expect(tw.waitForDecision('w')).rejects.toMatchObject({ code: 'conflict', status: 409 });
    await tw.askApproval('w', 'ok?');
    await expect(tw.waitForDecision('w', { timeoutMs: 300 })).rejects.toMatchObject({ code: 'timeout' });
    const ac = new AbortController();
    const waiting = tw.waitForDecision('w', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 200);
    await expect(waiting).rejects.toThrow('stop');
  });

  it('throws typed errors with the protocol code and status, and does not retry a 4xx', async () => {
    const s = (server = await startTestServer());
    const { fetch: f, calls } = counting();
    const tw = createBackend({ url: s.url, apiKey: s.apiKey, fetch: f, ...FAST });
    const missing = await tw.get('nope').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TaskwireApiError);
    expect(missing).toMatchObject({ code: 'not_found', status: 404 });
    expect(calls).toHaveLength(1);
    await tw.createTask({ owner: 'alice', id: 'c' });
    await expect(tw.complete('c')).rejects.toMatchObject({ code: 'conflict', status: 409 }); // queued → succeeded
    await tw.progress('c', 50);
    await tw.complete('c');
    await expect(tw.fail('c', 'late')).rejects.toMatchObject({ code: 'conflict', status: 409 });
    await expect(tw.createTask({ owner: 'alice', id: 'c' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(tw.update('c', { progress: 500 })).rejects.toMatchObject({ code: 'bad_request', status: 400 });
    const wrongKey = createBackend({ url: s.url, apiKey: 'wrong' });
    await expect(wrongKey.get('c')).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('retries 5xx and network errors with backoff, then gives up with the last error', async () => {
    const s = (server = await startTestServer());
    let failures = 2;
    const flaky: FetchLike = (url, init) =>
      failures-- > 0
        ? Promise.resolve(new Response('{"error":{"code":"unavailable","message":"busy"}}', { status: 503 }))
        : fetch(url, init);
    const tw = createBackend({ url: s.url, apiKey: s.apiKey, fetch: flaky, ...FAST });
    expect((await tw.createTask({ owner: 'alice', id: 'r' })).id).toBe('r');
    const down = createBackend({ url: 'http://127.0.0.1:1', apiKey: 'k', retries: 2, ...FAST });
    await expect(down.get('x')).rejects.toMatchObject({ code: 'network', status: 0 });
    const always503 = createBackend({
      url: s.url,
      apiKey: s.apiKey,
      retries: 1,
      ...FAST,
      fetch: () => Promise.resolve(new Response('{"error":{"code":"unavailable","message":"busy"}}', { status: 503 })),
    });
    await expect(always503.get('r')).rejects.toMatchObject({ code: 'unavailable', status: 503 });
  });
});
