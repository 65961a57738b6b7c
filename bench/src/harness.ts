/**
 * Deployments for one measured run: the target process(es), pinned to the server
 * CPU, and the load-generator workers, pinned to the client CPUs, started fresh for
 * every run (so peak RSS is per run) and stopped after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSets, forkChild, trackPid, untrackPid, type Forked } from './children.js';
import type { HistogramData } from './histogram.js';
import { mergeHistograms } from './histogram.js';
import type { Dialect } from './client/session.js';
import type { OpenArgs, OpenStats, RecoverStats, WorkerStats } from './client/worker.js';
import type { PublishArgs, PublishResult, TargetOptions } from './targets/common.js';
import { cpuMicrosOf, cpuTimeOf, memory, type CpuTime } from './procfs.js';
import type { TokenPlan } from './client/tokens.js';
import { Publishers } from './publishers.js';
import { startUsage } from './usage.js';

export type TargetName =
  | 'taskwire'
  | 'taskwire-publish'
  | 'taskwire-sqlite'
  | 'taskwire-redis'
  | 'taskwire-redis-2n'
  | 'ws'
  | 'socketio'
  | 'socketio-redis-2n'
  | 'uws'
  | 'app-ws'
  | 'app-socketio';

export interface TargetSpec {
  name: TargetName;
  kind: TargetOptions['kind'];
  dialect: Dialect;
  engine?: 'memory' | 'sqlite' | 'redis';
  taskPath?: 'task' | 'publish';
  nodes: number;
  redis: boolean;
}

const tw = (name: TargetName, engine: TargetSpec['engine'], more: Partial<TargetSpec> = {}): TargetSpec => ({
  name,
  kind: 'taskwire',
  dialect: 'taskwire',
  engine,
  nodes: 1,
  redis: false,
  ...more,
});

export const TARGETS: Record<TargetName, TargetSpec> = {
  taskwire: tw('taskwire', 'memory'),
  'taskwire-publish': tw('taskwire-publish', 'memory', { taskPath: 'publish' }),
  'taskwire-sqlite': tw('taskwire-sqlite', 'sqlite'),
  'taskwire-redis': tw('taskwire-redis', 'redis', { redis: true }),
  'taskwire-redis-2n': tw('taskwire-redis-2n', 'redis', { redis: true, nodes: 2 }),
  ws: { name: 'ws', kind: 'ws', dialect: 'ws', nodes: 1, redis: false },
  socketio: { name: 'socketio', kind: 'socketio', dialect: 'socketio', nodes: 1, redis: false },
  'socketio-redis-2n': { name: 'socketio-redis-2n', kind: 'socketio', dialect: 'socketio', nodes: 2, redis: true },
  uws: { name: 'uws', kind: 'uws', dialect: 'uws', nodes: 1, redis: false },
  // The hand-built apps speak taskwire's auth and subscribe frames (app-ws) or Socket.IO's (app-socketio).
  'app-ws': { name: 'app-ws', kind: 'app-ws', dialect: 'taskwire', nodes: 1, redis: false },
  'app-socketio': { name: 'app-socketio', kind: 'app-socketio', dialect: 'socketio', nodes: 1, redis: false },
};

/** The claims of every client token (one distinct JWT per connection, signed by the workers). */
const CLIENT_CHANNELS = ['room:*'];

export interface Environment {
  /** Directory of the compiled bench (dist). */
  dist: string;
  workers: number;
  jwtSecret: string;
  /** Tells this run's tokens from another's (their `jti`). */
  runId: string;
  /** Write V8 CPU profiles of the measured window of every broadcast run here, or null. */
  profileDir: string | null;
  /** Node 20 and the uws native binary, or null when uws cannot run natively here. */
  uws: { execPath: string; version: string; binary: string } | null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface ClientPlan {
  count: number;
  channel: OpenArgs['channel'];
  concurrency: number;
  timeoutMs: number;
}

export interface Delivery {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  unexpectedCloses: number;
  minPerClient: number;
  latency: HistogramData;
  errors: string[];
}

export class Deployment {
  readonly servers: Forked[] = [];
  readonly workers: Forked[] = [];
  /** The publisher processes of the outside scenarios (startPublishers), or null. */
  publishers: Publishers | null = null;
  private redis: Forked | null = null;
  private redisPid = 0;
  private dir: string | null = null;

  private constructor(
    readonly spec: TargetSpec,
    private readonly env: Environment,
  ) {}

  static async start(spec: TargetSpec, env: Environment, workers = env.workers): Promise<Deployment> {
    const d = new Deployment(spec, env);
    try {
      await d.startServers();
      for (let i = 0; i < workers; i++) {
        d.workers.push(
          await forkChild(join(env.dist, 'client/worker.js'), {
            name: `client worker ${i}`,
            args: [],
            cpuList: cpuSets()?.clients,
          }),
        );
      }
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  private async startServers(): Promise<void> {
    const { spec, env } = this;
    const cpus = cpuSets();
    let redisUrl: string | undefined;
    if (spec.redis) {
      const port = await freePort();
      this.redis = await forkChild(join(env.dist, 'redis-keeper.js'), {
        name: 'redis keeper',
        args: [String(port)],
        cpuList: cpus?.server,
      });
      this.redisPid = await this.redis.rpc.call<number>('pid', null, 5000);
      trackPid(this.redisPid);
      redisUrl = `redis://127.0.0.1:${port}`;
    }
    if (spec.engine === 'sqlite') this.dir = mkdtempSync(join(tmpdir(), 'taskwire-bench-'));
    for (let n = 0; n < spec.nodes; n++) {
      const options: TargetOptions = {
        kind: spec.kind,
        engine: spec.engine,
        taskPath: spec.taskPath,
        db: this.dir ? join(this.dir, 'bench.db') : undefined,
        redisUrl,
        jwtSecret: env.jwtSecret,
        uwsBinary: env.uws?.binary,
      };
      if (spec.kind === 'uws' && !env.uws) throw new Error('uws needs Node ≤ 20 with a native build');
      this.servers.push(
        await forkChild(join(env.dist, 'targets/serve.js'), {
          name: `${spec.name} node ${n}`,
          args: [JSON.stringify(options)],
          execPath: spec.kind === 'uws' ? env.uws?.execPath : undefined,
          // BENCH_SERVER_FLAGS: extra Node flags for the server processes (diagnosis: --trace-gc, say).
          execArgv: ['--expose-gc', ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [])],
          cpuList: cpus?.server,
        }),
      );
    }
  }

  async startPublishers(count: number): Promise<Publishers> {
    this.publishers = await Publishers.start(this.env.dist, count);
    return this.publishers;
  }

  /** Start measuring who used the CPUs (usage.ts): the servers, the load generator, the rest. */
  usage(): () => Record<string, number> {
    return startUsage({
      serverPids: this.serverPids,
      mainPid: (this.servers[0] as Forked).pid,
      loadPids: [...this.workers.map((w) => w.pid), ...(this.publishers?.pids ?? []), process.pid],
    });
  }

  /** The client token plan, with other claims (a publisher's `publish` patterns, say). */
  tokenPlan(subPrefix: string, publish?: string[]): TokenPlan {
    return { secret: this.env.jwtSecret, subPrefix, channels: CLIENT_CHANNELS, publish, run: this.env.runId };
  }

  /** Every server-side pid: the nodes and Redis. */
  get serverPids(): number[] {
    const pids = this.servers.map((s) => s.pid);
    if (this.redisPid) pids.push(this.redisPid);
    return pids;
  }

  url(node: number, scheme: 'ws' | 'http' = 'ws'): string {
    const s = this.servers[node % this.servers.length] as Forked;
    return `${scheme}://127.0.0.1:${String(s.port)}`;
  }

  cpuMicros(): number {
    return cpuMicrosOf(this.serverPids);
  }

  /** Server CPU split into user space (the server's own code, V8, GC) and kernel (mostly loopback TCP). */
  cpuTime(): CpuTime {
    return cpuTimeOf(this.serverPids);
  }

  /** Peak RSS summed over the node processes (Redis not included), bytes. */
  peakRss(): number {
    return this.servers.reduce((sum, s) => sum + memory(s.pid).peakRss, 0);
  }

  rss(): number {
    return this.servers.reduce((sum, s) => sum + memory(s.pid).rss, 0);
  }

  async heapUsed(gc: boolean): Promise<number> {
    let sum = 0;
    for (const s of this.servers) sum += (await s.rpc.call<NodeJS.MemoryUsage>('memory', gc, 30_000)).heapUsed;
    return sum;
  }

  async prepare(taskIds: string[], timeoutMs: number): Promise<void> {
    if (this.spec.kind !== 'taskwire' && this.spec.kind !== 'app-ws' && this.spec.kind !== 'app-socketio') return;
    // One node creates them; with Redis every node sees them.
    await (this.servers[0] as Forked).rpc.call('prepare', taskIds, timeoutMs);
  }

  /** Start (before the measured window) or stop and save (after it) CPU profiles of the nodes, with --profile. */
  async profile(action: 'start' | 'stop', label: string): Promise<void> {
    const dir = this.env.profileDir;
    if (!dir || this.spec.kind === 'uws') return;
    await Promise.all(
      this.servers.map((s, n) =>
        s.rpc.call(
          'profile',
          action === 'start'
            ? { action }
            : { action, file: join(dir, `${label}-${this.spec.name}-node${n}.cpuprofile`) },
          30_000,
        ),
      ),
    );
  }

  publish(args: PublishArgs, node = 0): Promise<PublishResult> {
    return (this.servers[node] as Forked).rpc.call<PublishResult>('publish', args, args.maxMs + 30_000);
  }

  /** Open `plan.count` clients, spread over the workers and (round-robin) over the nodes. */
  async open(plan: ClientPlan): Promise<OpenStats> {
    const chunks: Array<{ worker: Forked; node: number; first: number; count: number }> = [];
    const parts = this.workers.length * this.servers.length;
    let first = 0;
    for (let p = 0; p < parts; p++) {
      const count = Math.floor(plan.count / parts) + (p < plan.count % parts ? 1 : 0);
      chunks.push({
        worker: this.workers[p % this.workers.length] as Forked,
        node: p % this.servers.length,
        first,
        count,
      });
      first += count;
    }
    const results = await Promise.all(
      chunks.map((c) =>
        c.worker.rpc.call<OpenStats>(
          'open',
          {
            dialect: this.spec.dialect,
            url: this.url(c.node),
            first: c.first,
            count: c.count,
            channel: plan.channel,
            tokens: this.tokenPlan('bench-'),
            concurrency: Math.max(1, Math.ceil(plan.concurrency / parts)),
            timeoutMs: plan.timeoutMs,
          } satisfies OpenArgs,
          plan.timeoutMs * Math.ceil(c.count / Math.max(1, plan.concurrency / parts)) + 30_000,
        ),
      ),
    );
    return {
      opened: results.reduce((s, r) => s + r.opened, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      ms: Math.max(...results.map((r) => r.ms)),
      firstError: results.find((r) => r.firstError)?.firstError ?? null,
    };
  }

  async resetClients(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.rpc.call('reset', null, 10_000)));
  }

  async delivery(): Promise<Delivery> {
    const all = await Promise.all(this.workers.map((w) => w.rpc.call<WorkerStats>('stats', null, 10_000)));
    const active = all.filter((s) => s.received > 0);
    return {
      received: all.reduce((s, r) => s + r.received, 0),
      firstAt: active.length ? Math.min(...active.map((s) => s.firstAt)) : 0,
      lastAt: active.length ? Math.max(...active.map((s) => s.lastAt)) : 0,
      outOfOrder: all.reduce((s, r) => s + r.outOfOrder, 0),
      unexpectedCloses: all.reduce((s, r) => s + r.unexpectedCloses, 0),
      minPerClient: Math.min(...all.filter((s) => s.clients > 0).map((s) => s.minPerClient)),
      latency: mergeHistograms(all.map((s) => s.latency)),
      errors: all.flatMap((s) => s.errors),
    };
  }

  /** Poll until `expected` events arrived or `timeoutMs` passed. */
  async awaitDelivery(expected: number, timeoutMs: number): Promise<Delivery> {
    const deadline = Date.now() + timeoutMs;
    let d = await this.delivery();
    let last = d.received;
    let stalledSince = Date.now();
    while (d.received < expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      d = await this.delivery();
      if (d.received !== last) {
        last = d.received;
        stalledSince = Date.now();
      } else if (Date.now() - stalledSince > 3000) break; // nothing more is coming
    }
    return d;
  }

  async dropClients(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.rpc.call('drop', null, 30_000)));
  }

  async recoverClients(concurrency: number, timeoutMs: number): Promise<RecoverStats[]> {
    return Promise.all(
      this.workers.map((w, i) =>
        w.rpc.call<RecoverStats>(
          'recover',
          { url: this.url(i), concurrency: Math.max(1, Math.ceil(concurrency / this.workers.length)), timeoutMs },
          timeoutMs * 20 + 30_000,
        ),
      ),
    );
  }

  async stop(): Promise<void> {
    await this.publishers?.stop();
    await Promise.allSettled(this.workers.map((w) => w.stop()));
    await Promise.allSettled(this.servers.map((s) => s.stop()));
    if (this.redis) await this.redis.stop();
    if (this.redisPid) untrackPid(this.redisPid);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
