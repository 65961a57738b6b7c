/**
 * What users pay: events come from outside the server, over its public entry points,
 * from publisher processes of the load generator (client/publisher.ts), each with its
 * own connection(s), every reply awaited.
 * - rooms-N-ws-*: N `room:` channels with one subscriber each; 2 WebSocket publishers
 *   send the `publish` op (taskwire with a token allowed `publish: ["room:*"]`; plain ws
 *   and Socket.IO targets have a matching op that broadcasts and acks with an offset).
 * - tasks-N-http-*: N tasks, each with its owner subscribed to `task:<id>`; 4 backend
 *   workers × 16 keep-alive connections send `PATCH /api/v1/tasks/:id`; taskwire
 *   against the hand-built Fastify + ws and Fastify + Socket.IO apps.
 * Before each window an unmeasured warm-up sends one event per channel.
 */
import type { Deployment, TargetName } from '../harness.js';
import { quantile } from '../histogram.js';
import { BENCH_API_KEY } from '../targets/common.js';
import { now, sleep, type Column, type Metrics, type Scenario } from './types.js';

export interface OutsideSpec {
  id: string;
  title: string;
  what: string;
  via: 'ws' | 'http';
  targets: TargetName[];
  baseline: TargetName;
  channels: number;
  publishers: number;
  /** http: keep-alive connections per publisher process. */
  connections: number;
  /** Replies awaited at once per publisher (http: at most `connections`). */
  window: number;
  count: number;
  /** Publishes (or updates) per second over all publishers; 0: max rate. */
  rate: number;
}

/** Who used the CPUs during the window (usage.ts). */
export const USAGE_COLUMNS: Column[] = [
  { key: 'serverBusy', label: 'server busy %', digits: 0, better: 'lower' },
  { key: 'mainThread', label: 'server main thread % of its CPU', digits: 0, better: 'lower' },
  { key: 'loadBusy', label: 'load-gen busy %', digits: 0, better: 'lower' },
  { key: 'othersServerCpu', label: 'others on server CPU %', digits: 0, better: 'lower' },
  { key: 'othersLoadCpu', label: 'others on load-gen CPU %', digits: 0, better: 'lower' },
];

function columns(s: OutsideSpec): Column[] {
  const max = s.rate === 0;
  const per = s.via === 'http' ? 'update' : 'delivery';
  return [
    { key: 'rate', label: 'deliveries/s', digits: 0, better: 'higher', ratio: true, summary: max },
    { key: 'delivered', label: 'delivered %', digits: 1, better: 'higher' },
    { key: 'p50', label: 'p50 ms', digits: 2, better: 'lower', ratio: true, summary: max },
    { key: 'p99', label: 'p99 ms', digits: 2, better: 'lower', ratio: true, summary: !max },
    { key: 'replyP99', label: 'reply p99 ms', digits: 2, better: 'lower' },
    { key: 'cpu', label: `server CPU µs/${per}`, digits: 1, better: 'lower', ratio: true, summary: true },
    { key: 'cpuUser', label: 'of which user', digits: 1, better: 'lower' },
    { key: 'rss', label: 'server peak RSS MB', digits: 0, better: 'lower', ratio: true, summary: max },
    ...USAGE_COLUMNS,
  ];
}

async function measureOutside(d: Deployment, s: OutsideSpec): Promise<Metrics> {
  const ids = Array.from({ length: s.channels }, (_, i) => `bench-${i}`);
  const prefix = s.via === 'http' ? 'task:bench-' : 'room:r-';
  if (s.via === 'http') await d.prepare(ids, 120_000);
  const opened = await d.open({
    count: s.channels,
    channel: { kind: 'each', prefix, modulo: s.channels },
    concurrency: 200,
    timeoutMs: 20_000,
  });
  if (opened.failed > 0) throw new Error(`${opened.failed} clients failed to connect: ${opened.firstError ?? ''}`);
  const pubs = await d.startPublishers(s.publishers);
  await pubs.connect((i) =>
    s.via === 'ws'
      ? {
          via: 'ws',
          dialect: d.spec.dialect,
          url: d.url(0),
          tokens: d.tokenPlan('bench-publisher-', ['room:*']),
          index: i,
          timeoutMs: 10_000,
        }
      : { via: 'http', url: d.url(0, 'http'), connections: s.connections, apiKey: BENCH_API_KEY },
  );
  const runArgs = (count: number, rate: number) => (i: number) => ({
    prefix: s.via === 'http' ? 'bench-' : 'room:r-',
    n: s.channels,
    first: i,
    stride: s.publishers,
    count: Math.ceil(count / s.publishers),
    rate: rate / s.publishers,
    window: s.window,
    maxMs: 60_000,
    padBytes: 64,
  });
  // Warm-up, not measured: one event per channel (first sends, first frames, JIT).
  const warm = await pubs.run(runArgs(s.channels, 0));
  if (warm.errors > 0) throw new Error(`warm-up: ${warm.errors} publish errors: ${warm.firstError ?? ''}`);
  await d.awaitDelivery(warm.acked, 30_000);
  await sleep(200);
  await d.resetClients();
  await d.heapUsed(true);
  await d.profile('start', s.id);
  const cpu0 = d.cpuTime();
  const usage = d.usage();
  const t0 = now();
  const pub = await pubs.run(runArgs(s.count, s.rate));
  const got = await d.awaitDelivery(pub.acked, 60_000);
  const used = usage();
  const cpu1 = d.cpuTime();
  await d.profile('stop', s.id);
  if (pub.errors > 0) throw new Error(`${pub.errors} publish errors: ${pub.firstError ?? ''}`);
  if (got.errors.length > 0) throw new Error(`client errors: ${got.errors.join('; ')}`);
  const user = cpu1.user - cpu0.user;
  const cpu = user + cpu1.system - cpu0.system;
  const seconds = Math.max(1e-3, (got.lastAt - t0) / 1000);
  return {
    rate: got.received / seconds,
    delivered: (100 * got.received) / Math.max(1, pub.sent),
    p50: quantile(got.latency, 0.5) / 1000,
    p99: quantile(got.latency, 0.99) / 1000,
    replyP99: quantile(pub.replyLatency, 0.99) / 1000,
    cpu: cpu / Math.max(1, got.received),
    cpuUser: user / Math.max(1, got.received),
    rss: d.peakRss() / 2 ** 20,
    ...used,
    outOfOrder: got.outOfOrder,
    closes: got.unexpectedCloses,
    // At a fixed rate: 1 when under 90 % of it was delivered per second (the server or the load generator saturated).
    shortfall: s.rate > 0 && got.received / seconds < 0.9 * s.rate ? 1 : 0,
  };
}

export function outsideScenario(s: OutsideSpec): Scenario {
  return {
    id: s.id,
    title: s.title,
    what: s.what,
    targets: s.targets,
    baseline: s.baseline,
    columns: columns(s),
    run: (d) => measureOutside(d, s),
  };
}

export interface OutsideSizes {
  channels: number;
  wsRate: number;
  wsRateEvents: number;
  wsMaxEvents: number;
  httpRate: number;
  httpRateEvents: number;
  httpMaxEvents: number;
}

const fmt = (n: number): string => n.toLocaleString('en');

export function outsideScenarios(z: OutsideSizes): Scenario[] {
  const rooms = (max: boolean): Scenario =>
    outsideScenario({
      id: `rooms-${z.channels}-ws-${max ? 'max' : 'rate'}`,
      title: `Rooms over WebSocket publish, ${fmt(z.channels)} channels, ${max ? 'max rate' : `${fmt(z.wsRate)} publishes/s`}`,
      what: `${fmt(z.channels)} clients, each subscribed to its own \`room:\` channel (one JWT per connection); 2 publisher processes, each with its own WebSocket, send ${fmt(max ? z.wsMaxEvents : z.wsRateEvents)} \`publish\` ops round-robin over the channels${max ? ', 100 replies awaited at a time per publisher' : ` at ${fmt(z.wsRate)}/s in all`}, every reply awaited. taskwire authenticates the publishers (a token with \`publish: ["room:*"]\`) and checks every publish; plain ws and Socket.IO broadcast and ack with an offset.`,
      via: 'ws',
      targets: ['taskwire', 'ws', 'socketio'],
      baseline: 'ws',
      channels: z.channels,
      publishers: 2,
      connections: 1,
      window: 100,
      count: max ? z.wsMaxEvents : z.wsRateEvents,
      rate: max ? 0 : z.wsRate,
    });
  const tasks = (max: boolean): Scenario =>
    outsideScenario({
      id: `tasks-${z.channels}-http-${max ? 'max' : 'rate'}`,
      title: `Task updates over HTTP, ${fmt(z.channels)} tasks, ${max ? 'max rate' : `${fmt(z.httpRate)} updates/s`}`,
      what: `${fmt(z.channels)} tasks, each with its owner subscribed to \`task:<id>\` (one JWT per connection, ownership checked); 4 backend-worker processes × 16 keep-alive connections send ${fmt(max ? z.httpMaxEvents : z.httpRateEvents)} \`PATCH /api/v1/tasks/:id\` (API key, \`{progress, meta}\`) round-robin over the tasks${max ? ', as fast as the replies come' : ` at ${fmt(z.httpRate)}/s in all`}. taskwire runs its task service (validate, reduce, commit, events on \`task:\` and \`user:\`); app-ws and app-socketio are the Fastify apps users hand-build (schema-validated route, in-memory task, broadcast to the task's subscribers).`,
      via: 'http',
      targets: ['taskwire', 'app-ws', 'app-socketio'],
      baseline: 'app-ws',
      channels: z.channels,
      publishers: 4,
      connections: 16,
      window: 16,
      count: max ? z.httpMaxEvents : z.httpRateEvents,
      rate: max ? 0 : z.httpRate,
    });
  return [rooms(false), rooms(true), tasks(false), tasks(true)];
}
