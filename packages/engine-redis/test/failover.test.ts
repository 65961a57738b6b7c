/**
 * Failures with real processes: Redis restarted without persistence under a steady
 * stream, a node SIGKILLed under a steady stream, and the stall sweep running on two
 * nodes at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import {
  API_KEY,
  JWT_SECRET,
  closeAllNodes,
  sleep,
  startNode,
  token,
  until,
  type TaskwireNode,
} from './helpers/nodes.js';
import { startRedis, stopAllRedis } from './helpers/redis.js';
import { ChannelFollower, WsClient, type Frame } from './helpers/ws.js';

const clients: WsClient[] = [];
const children: ChildProcess[] = [];
// Belt and braces: a node process must not outlive a crashed test worker either.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await closeAllNodes();
  await stopAllRedis();
});

async function connect(node: { wsUrl: string }, sub: string, channels: string[] = []): Promise<WsClient> {
  const c = await WsClient.connect(node.wsUrl, token({ sub, channels }));
  clients.push(c);
  return c;
}

async function ready(node: TaskwireNode): Promise<number> {
  return (await node.api('GET', '/readyz').catch(() => ({ status: 0 }))).status;
}

/** Follows one task the way the SDK does, including resubscribe with recovery. */
class TaskWatcher {
  snapshot: Frame | null = null;
  recoveredFalse = 0;
  private epoch = '';
  private offset = 0;
  /** Events that arrived while a subscribe was in flight (possibly before its reply was handled). */
  private held: Frame[] | null = null;

  constructor(
    private readonly client: WsClient,
    private readonly channel: string,
  ) {
    client.onFrame = (f) => {
      if (f.type === 'event' && f.channel === channel) {
        if (this.held) this.held.push(f);
        else this.onEvent(f);
      }
      if (f.type === 'unsubscribed' && f.channel === channel && f.resubscribe === true) void this.resubscribe();
    };
  }

  async start(): Promise<void> {
    this.held = [];
    this.adopt(await this.client.subscribe(this.channel));
  }

  private async resubscribe(): Promise<void> {
    this.held = [];
    const result = await this.client.subscribe(this.channel, { epoch: this.epoch, offset: this.offset });
    if (result.recovered === false) this.recoveredFalse += 1;
    this.adopt(result);
  }

  private adopt(result: Frame): void {
    this.epoch = result.epoch as string;
    if (result.recovered !== true) this.snapshot = (result.snapshot as Frame | null) ?? null;
    for (const e of (result.events ?? []) as Frame[]) this.onEvent(e);
    this.offset = result.offset as number;
    const held = this.held ?? [];
    this.held = null;
    for (const e of held) this.onEvent(e);
  }

  private onEvent(e: Frame): void {
    if (e.epoch !== this.epoch || e.offset <= this.offset) return;
    this.offset = e.offset as number;
    const task = e.data?.task as Frame | undefined;
    if (task && (!this.snapshot || task.version > this.snapshot.version)) this.snapshot = task;
  }
}

describe('failures', () => {
  it('survives a Redis restart without persistence under a steady stream', async () => {
    const redis = await startRedis();
    const a = await startNode('A', { url: redis.url, prefix: 'rs' });
    const b = await startNode('B', { url: redis.url, prefix: 'rs' });
    const id = 'restart-task';
    expect((await b.api('POST', '/tasks', { id, owner: 'erin' })).status).toBe(201);
    const watcher = new TaskWatcher(await connect(a, 'erin'), `task:${id}`);
    await watcher.start();

    // The worker: a steady stream of updates through B; it re-creates the task if Redis lost it.
    const statuses: number[] = [];
    const unavailable: unknown[] = [];
    let stop = false;
    let successes = 0;
    const worker = (async () => {
      for (let i = 0; !stop; i++) {
        const res = await b.api('PATCH', `/tasks/${id}`, { message: `m${i}` }).catch(() => ({ status: 0, body: null }));
        statuses.push(res.status);
        if (res.status === 200) successes += 1;
        else if (res.status === 404) await b.api('POST', '/tasks', { id, owner: 'erin' }).catch(() => undefined);
        else if (res.status === 503) unavailable.push(res.body);
        await sleep(15);
      }
    })();

    await until(() => successes >= 10, 'updates flowing');
    await redis.stop();
    await until(async () => (await ready(a)) === 503 && (await ready(b)) === 503, '/readyz red on both nodes');
    await until(() => unavailable.length >= 3, 'publishes refused during the outage');
    const roomPublish = await a.api('POST', '/channels/room:outage/publish', { data: 1 });
    expect(roomPublish).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    await redis.start();
    await until(async () => (await ready(a)) === 200 && (await ready(b)) === 200, '/readyz green again', 20_000);
    const resumedAt = successes;
    await until(() => successes >= resumedAt + 10, 'updates flowing again', 20_000);
    stop = true;
    await worker;

    for (const body of unavailable) expect(body).toMatchObject({ error: { code: 'unavailable' } });
    const truth = (await a.api('GET', `/tasks/${id}`)).body as Frame;
    await until(
      () => watcher.snapshot?.version === truth.version && watcher.snapshot?.message === truth.message,
      'the client converges',
    );
    expect(watcher.snapshot).toEqual(truth);
    expect(watcher.recoveredFalse).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 500)).toEqual([]);
    expect((await a.api('GET', '/healthz')).status).toBe(200);
    expect((await b.api('GET', '/healthz')).status).toBe(200);
  }, 90_000);

  it('marks each stalled task once with the stall sweep running on two nodes', async () => {
    const redis = await startRedis();
    const nodes = await Promise.all(
      ['S1', 'S2'].map((n) => startNode(n, { url: redis.url, prefix: 'st' }, { stallSweepMs: 50 })),
    );
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const created = await nodes[i % 2]!.api('POST', '/tasks', { owner: 'finn', stallTimeoutMs: 200 });
      ids.push(created.body.id as string);
      expect((await nodes[i % 2]!.api('PATCH', `/tasks/${created.body.id}`, { status: 'running' })).status).toBe(200);
    }
    await until(async () => {
      const all = await Promise.all(ids.map((id) => nodes[0]!.api('GET', `/tasks/${id}`)));
      return all.every((r) => r.body.status === 'stalled');
    }, 'every task stalled');
    await sleep(500); // several more sweeps on both nodes
    for (const id of ids) {
      const task = (await nodes[1]!.api('GET', `/tasks/${id}`)).body as Frame;
      expect(task).toMatchObject({ status: 'stalled', version: 3 });
      const h = (await nodes[0]!.api('GET', `/channels/task:${id}/history?limit=100`)).body as Frame;
      const stalls = (h.events as Frame[]).filter((e) => e.data.task?.status === 'stalled');
      expect(stalls).toHaveLength(1);
    }
  }, 60_000);

  it('loses nothing when a node is SIGKILLed under a steady stream: its clients recover on the others', async () => {
    const dist = new URL('../dist/index.js', import.meta.url);
    if (!existsSync(dist)) throw new Error('build first (npx tsc -b): the killed node runs packages/engine-redis/dist');
    const redis = await startRedis();
    const child = spawn(
      process.execPath,
      [new URL('./fixtures/node-main.mjs', import.meta.url).pathname, redis.url, JWT_SECRET, API_KEY],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`node exited early (${code})`)));
    });
    const doomed = { wsUrl: `${(JSON.parse(line) as { url: string }).url.replace(/^http/, 'ws')}/api/v1/ws` };
    const b = await startNode('B', { url: redis.url, prefix: 'fo' });
    const c = await startNode('C', { url: redis.url, prefix: 'fo' });
    const room = 'room:steady';

    const followers = await Promise.all(
      [0, 1, 2].map(async () => {
        const client = await connect(doomed, 'gus', ['room:*']);
        const f = new ChannelFollower();
        f.hold();
        client.onFrame = (fr) => fr.type === 'event' && f.apply(fr);
        f.begin(await client.subscribe(room));
        return { client, f };
      }),
    );
    let published = 0;
    let stop = false;
    const publisher = (async () => {
      while (!stop) {
        const res = await b.api('POST', `/channels/${room}/publish`, { data: { i: published + 1 } });
        if (res.status === 200) published += 1;
        await sleep(10);
      }
    })();
    await until(() => followers.every(({ f }) => f.data.length >= 10), 'events flowing through the doomed node');
    child.kill('SIGKILL');
    await Promise.all(followers.map(({ client }) => new Promise((r) => client.ws.once('close', r))));
    // Each client reconnects to a surviving node and resumes from its last position.
    const resumed = await Promise.all(
      followers.map(async ({ f }, i) => {
        const client = await connect(i % 2 === 0 ? b : c, 'gus', ['room:*']);
        f.hold();
        client.onFrame = (fr) => fr.type === 'event' && f.apply(fr);
        const result = await client.subscribe(room, { epoch: f.epoch, offset: f.offset });
        f.begin(result);
        return result.recovered as boolean;
      }),
    );
    const after = published;
    await until(() => published >= after + 20, 'more events after the loss');
    stop = true;
    await publisher;
    await until(() => followers.every(({ f }) => f.offset === published), 'every client caught up');
    expect(resumed).toEqual([true, true, true]);
    for (const { f } of followers) {
      expect(f.gaps).toBe(0);
      expect(f.repeats).toBe(0);
      expect(f.data).toEqual(Array.from({ length: published }, (_, i) => ({ i: i + 1 })));
    }
  }, 60_000);
});
