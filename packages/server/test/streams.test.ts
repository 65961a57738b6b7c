/**
 * Streams (protocol 1.1 §8) over the public entry points, on memory and SQLite: each
 * chunk one `task.stream` event with its index, the whole text over HTTP and the
 * WebSocket `stream` op, the snapshot's `streams` summary without a version change,
 * retry-safe appends by index, output as activity, and every limit coded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, type Task, type TaskEventData } from '@taskwire/protocol';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TestClient, eventually } from './helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['memory', 'sqlite'] as const)('streams (%s)', (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine, db: join(dir, `${engine}.db`), streamMaxBytes: 4096 });
  });
  afterAll(() => t.close());

  const create = async (id: string, owner = 'ada', extra: Record<string, unknown> = {}): Promise<void> => {
    expect((await t.api('POST', '/tasks', { id, owner, ...extra })).status).toBe(201);
  };
  const append = (id: string, body: Record<string, unknown>) => t.api('POST', `/tasks/${id}/stream`, body);
  const text = async (id: string, stream = 'output'): Promise<{ text: string; chunks: number }> =>
    (await t.api('GET', `/tasks/${id}/streams/${stream}`)).body as { text: string; chunks: number };

  it('each chunk is one task.stream event with its index; the text, the summary and the version agree', async () => {
    await create('write');
    await t.api('PATCH', '/tasks/write', { progress: 5 });
    const ws = await TestClient.authed(t.wsUrl, await t.token({ sub: 'ada' }), { inbox: (f) => f.type !== 'event' });
    const events: TaskEventData[] = [];
    const watcher = await TestClient.authed(t.wsUrl, await t.token({ sub: 'ada' }), {
      inbox: (f) => f.type !== 'event',
      onFrame: (f) => {
        if (f.type === 'event') events.push(f.data as TaskEventData);
      },
    });
    await watcher.request({ op: 'subscribe', channel: 'task:write' });
    const chunks = ['Once ', 'upon ', 'a time — ', 'ünïcødé 🚀', '\nthe end'];
    for (const [i, chunk] of chunks.entries()) {
      const res = await append('write', { text: chunk });
      expect(res).toMatchObject({ status: 200, body: { stream: 'output', chunks: i + 1 } });
    }
    await append('write', { text: 'side note', stream: 'notes' });
    await eventually(() => events.length === chunks.length + 1, 'every chunk pushed');
    expect(events.slice(0, chunks.length)).toEqual(
      chunks.map((c, index) => ({ kind: 'task.stream', taskId: 'write', stream: 'output', index, text: c })),
    );
    expect(await text('write')).toEqual({ stream: 'output', text: chunks.join(''), chunks: 5 });
    expect(await text('write', 'notes')).toMatchObject({ text: 'side note', chunks: 1 });
    expect(await text('write', 'never')).toEqual({ stream: 'never', text: '', chunks: 0 });
    // The summary follows without a version change, in GET and in a subscribe reply.
    const task = (await t.api('GET', '/tasks/write')).body as Task;
    const bytes = Buffer.byteLength(chunks.join(''));
    expect(task.streams).toEqual({ output: { chunks: 5, bytes }, notes: { chunks: 1, bytes: 9 } });
    expect(task.version).toBe(2);
    const reply = (await ws.request({ op: 'subscribe', channel: 'task:write' })).result as { snapshot: Task };
    expect(reply.snapshot.streams).toEqual(task.streams);
    // The WebSocket `stream` op reads the same text with the subscriber's permission.
    const read = await ws.request({ op: 'stream', task: 'write' });
    expect(read.result).toEqual({ stream: 'output', text: chunks.join(''), chunks: 5 });
    const bob = await TestClient.authed(t.wsUrl, await t.token({ sub: 'bob' }));
    expect((await bob.request({ op: 'stream', task: 'write' })).error).toMatchObject({ code: 'not_found' });
    expect(
      (await t.api('GET', '/tasks/write/streams/output', undefined, { token: await t.token({ sub: 'bob' }) })).status,
    ).toBe(404);
    for (const c of [ws, watcher, bob]) c.close();
  });

  it('an append with its index is safe to retry: a chunk already there is not doubled, a gap is 409', async () => {
    await create('retry');
    expect((await append('retry', { text: 'a', index: 0 })).body).toEqual({ stream: 'output', chunks: 1 });
    expect((await append('retry', { text: 'a', index: 0 })).body).toEqual({ stream: 'output', chunks: 1 });
    expect((await append('retry', { text: 'b', index: 1 })).body).toEqual({ stream: 'output', chunks: 2 });
    const gap = await append('retry', { text: 'd', index: 3 });
    expect(gap).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await text('retry')).toMatchObject({ text: 'ab', chunks: 2 });
    // Concurrent appends without index all land, each once, in some order.
    await Promise.all(Array.from({ length: 20 }, (_, i) => append('retry', { text: `<${i}>` })));
    const all = await text('retry');
    expect(all.chunks).toBe(22);
    for (let i = 0; i < 20; i++) expect(all.text.split(`<${i}>`)).toHaveLength(2);
  });

  it('output is activity: a stalled task runs again; a task that has ended refuses more', async () => {
    await create('quiet', 'ada', { stallTimeoutMs: 1000 });
    await t.api('PATCH', '/tasks/quiet', { progress: 1 });
    await t.server.ctx.tasks.sweepStalls(Date.now() + 5000);
    expect(((await t.api('GET', '/tasks/quiet')).body as Task).status).toBe('stalled');
    await append('quiet', { text: 'still here' });
    expect(((await t.api('GET', '/tasks/quiet')).body as Task).status).toBe('running');
    await t.api('PATCH', '/tasks/quiet', { status: 'succeeded' });
    const late = await append('quiet', { text: 'too late' });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await text('quiet')).toMatchObject({ text: 'still here', chunks: 1 });
  });

  it('every limit answers its coded error and appends nothing', async () => {
    await create('limits');
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ text: '' }, 400, 'bad_request'],
      [{ text: 'x'.repeat(LIMITS.streamChunkBytes + 1) }, 400, 'bad_request'],
      [{ text: 'é'.repeat(LIMITS.streamChunkBytes / 2 + 1) }, 400, 'bad_request'],
      [{ text: 'x', stream: 'bad name' }, 400, 'bad_request'],
      [{ text: 'x', index: -1 }, 400, 'bad_request'],
      [{ text: 42 }, 400, 'bad_request'],
    ];
    for (const [body, status, code] of cases) {
      expect(await append('limits', body), JSON.stringify(body).slice(0, 60)).toMatchObject({
        status,
        body: { error: { code } },
      });
    }
    expect(await append('missing', { text: 'x' })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    // --stream-max-bytes 4096 for this server: the chunk that would pass it is refused.
    expect((await append('limits', { text: 'x'.repeat(4000) })).status).toBe(200);
    const over = await append('limits', { text: 'x'.repeat(97) });
    expect(over).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(over.body.error.message).toMatch(/--stream-max-bytes/);
    expect(await text('limits')).toMatchObject({ chunks: 1 });
    // At most 8 streams per task.
    for (let i = 1; i < LIMITS.streamsPerTask; i++)
      expect((await append('limits', { text: 'x', stream: `s${i}` })).status).toBe(200);
    const ninth = await append('limits', { text: 'x', stream: 'one-too-many' });
    expect(ninth).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const task = (await t.api('GET', '/tasks/limits')).body as Task;
    expect(Object.keys(task.streams)).toHaveLength(LIMITS.streamsPerTask);
    expect(task.streams['one-too-many']).toBeUndefined();
    // Only the backend appends.
    const user = await t.token({ sub: 'ada' });
    expect((await t.api('POST', '/tasks/limits/stream', { text: 'x' }, { token: user })).status).toBe(403);
  });

  it('welcome announces streams', async () => {
    const ws = await TestClient.connect(t.wsUrl);
    ws.send({ op: 'auth', token: await t.token({ sub: 'ada' }) });
    const welcome = await ws.next((f) => f.type === 'welcome', 'welcome');
    expect(welcome.features).toEqual(expect.arrayContaining(['batches', 'streams']));
    ws.close();
  });
});
