/**
 * Broadcast scenarios: fan-out to one channel, many task channels round-robin, and
 * the same over Redis. Clients subscribe first; then, in the target process, the
 * publisher sends a bounded number of events at a fixed rate or at max rate, and
 * the run ends when every delivery arrived (or nothing arrived for 3 s).
 */
import type { ClientPlan, Deployment, TargetName } from '../harness.js';
import { quantile } from '../histogram.js';
import type { PublishArgs } from '../targets/common.js';
import { now, sleep, type Column, type Metrics, type Scenario } from './types.js';

export const BROADCAST_COLUMNS: Column[] = [
  { key: 'rate', label: 'deliveries/s', digits: 0, better: 'higher', ratio: true },
  { key: 'delivered', label: 'delivered %', digits: 1, better: 'higher' },
  { key: 'p50', label: 'p50 ms', digits: 2, better: 'lower' },
  { key: 'p99', label: 'p99 ms', digits: 2, better: 'lower', ratio: true },
  { key: 'max', label: 'max ms', digits: 1, better: 'lower' },
  { key: 'cpu', label: 'server CPU µs/delivery', digits: 2, better: 'lower', ratio: true },
  { key: 'cpuUser', label: 'of which user', digits: 2, better: 'lower', ratio: true },
  { key: 'rss', label: 'server peak RSS MB', digits: 0, better: 'lower' },
];

export interface BroadcastSpec {
  id: string;
  title: string;
  what: string;
  targets: TargetName[];
  clients: number;
  channel: ClientPlan['channel'];
  /** Channels the publisher goes round-robin over. */
  publishTo: string[];
  /** Subscribers of each published event. */
  fanout: number;
  count: number;
  rate: number;
  burst: number;
  shape: PublishArgs['shape'];
  /** taskwire: create these tasks first (task-shaped events need real tasks). */
  tasks?: string[];
}

export async function measureBroadcast(d: Deployment, s: BroadcastSpec): Promise<Metrics> {
  if (s.tasks) await d.prepare(s.tasks, 120_000);
  const opened = await d.open({ count: s.clients, channel: s.channel, concurrency: 200, timeoutMs: 20_000 });
  if (opened.failed > 0) throw new Error(`${opened.failed} clients failed to connect: ${opened.firstError ?? ''}`);
  await sleep(300);
  await d.resetClients();
  // Settle every target's heap first (a full GC), so no target pays inside the window for the garbage
  // and survivors its 1,000s of connection handshakes left behind.
  await d.heapUsed(true);
  await d.profile('start', s.id);
  const cpu0 = d.cpuTime();
  const t0 = now();
  const pub = await d.publish({
    channels: s.publishTo,
    count: s.count,
    rate: s.rate,
    burst: s.burst,
    maxMs: 60_000,
    shape: s.shape,
    padBytes: 64,
  });
  if (pub.errors > 0) throw new Error(`${pub.errors} publish errors: ${pub.firstError ?? ''}`);
  const expected = pub.published * s.fanout;
  const got = await d.awaitDelivery(expected, 60_000);
  const cpu1 = d.cpuTime();
  const user = cpu1.user - cpu0.user;
  const cpu = user + cpu1.system - cpu0.system;
  await d.profile('stop', s.id);
  if (got.errors.length > 0) throw new Error(`client errors: ${got.errors.join('; ')}`);
  const seconds = Math.max(1e-3, (got.lastAt - t0) / 1000);
  return {
    rate: got.received / seconds,
    delivered: (100 * got.received) / Math.max(1, expected),
    p50: quantile(got.latency, 0.5) / 1000,
    p99: quantile(got.latency, 0.99) / 1000,
    max: got.latency.max / 1000,
    cpu: cpu / Math.max(1, got.received),
    cpuUser: user / Math.max(1, got.received),
    faults: (cpu1.faults - cpu0.faults) / Math.max(1, got.received),
    rss: d.peakRss() / 2 ** 20,
    outOfOrder: got.outOfOrder,
    closes: got.unexpectedCloses,
  };
}

export function broadcastScenario(s: BroadcastSpec): Scenario {
  return {
    id: s.id,
    title: s.title,
    what: s.what,
    targets: s.targets,
    columns: BROADCAST_COLUMNS,
    run: (d) => measureBroadcast(d, s),
  };
}
