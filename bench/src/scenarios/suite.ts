/** The default suite and the quick (smoke) suite: every scenario bounded in count and time. */
import type { TargetName } from '../harness.js';
import { broadcastScenario } from './broadcast.js';
import { connectScenario, idleScenario } from './connections.js';
import { outsideScenarios, type OutsideSizes } from './outside.js';
import { recoveryScenario } from './recovery.js';
import type { Scenario } from './types.js';

const PEERS: TargetName[] = ['taskwire', 'ws', 'socketio', 'uws'];
const ENGINES: TargetName[] = [
  'taskwire',
  'taskwire-sqlite',
  'taskwire-redis',
  'taskwire-redis-2n',
  'socketio-redis-2n',
  'ws',
];

interface Sizes {
  fanout: [small: number, large: number];
  /** Fixed offered rates (events/s) for the small and the large fan-out. */
  fanoutRate: [number, number];
  fanoutSeconds: number;
  /** Events published at max rate for the small and the large fan-out. */
  fanoutMaxEvents: [number, number];
  channels: number;
  channelsRate: number;
  channelsEvents: number;
  /** At max rate: more events, so the window is long enough for a steady CPU reading. */
  channelsMaxEvents: number;
  idle: number;
  connect: number;
  connectConcurrency: number;
  storm: { clients: number; channels: number; missed: number; concurrency: number };
  redisFanout: number;
  redisEvents: number;
  outside: OutsideSizes;
}

const FULL: Sizes = {
  fanout: [1000, 5000],
  // Both 30,000 deliveries/s offered: well under what the load generator takes on one core.
  fanoutRate: [30, 6],
  fanoutSeconds: 2.5,
  fanoutMaxEvents: [150, 30],
  channels: 5000,
  channelsRate: 4000,
  channelsEvents: 10_000,
  channelsMaxEvents: 20_000,
  idle: 10_000,
  connect: 2000,
  connectConcurrency: 50,
  storm: { clients: 5000, channels: 50, missed: 100, concurrency: 500 },
  redisFanout: 1000,
  redisEvents: 150,
  outside: {
    channels: 5000,
    wsRate: 10_000,
    wsRateEvents: 15_000,
    wsMaxEvents: 20_000,
    httpRate: 3000,
    httpRateEvents: 4500,
    httpMaxEvents: 6000,
  },
};

const QUICK: Sizes = {
  fanout: [200, 500],
  fanoutRate: [50, 20],
  fanoutSeconds: 1,
  fanoutMaxEvents: [50, 20],
  channels: 300,
  channelsRate: 1000,
  channelsEvents: 900,
  channelsMaxEvents: 900,
  idle: 500,
  connect: 200,
  connectConcurrency: 20,
  storm: { clients: 200, channels: 10, missed: 20, concurrency: 100 },
  redisFanout: 200,
  redisEvents: 50,
  outside: {
    channels: 300,
    wsRate: 3000,
    wsRateEvents: 1500,
    wsMaxEvents: 1500,
    httpRate: 1000,
    httpRateEvents: 600,
    httpMaxEvents: 600,
  },
};

function fanout(n: number, rate: number, count: number, label: string, targets: TargetName[], id: string): Scenario {
  const max = rate === 0;
  return broadcastScenario({
    id,
    title: `Fan-out, ${n.toLocaleString('en')} subscribers, ${label}`,
    what: max
      ? `One channel, ${n.toLocaleString('en')} subscribers; the publisher in the server process sends ${count} events as fast as the server goes (one event, then a yield to I/O).`
      : `One channel, ${n.toLocaleString('en')} subscribers; ${count} events offered at ${rate}/s (${(n * rate).toLocaleString('en')} deliveries/s) by the publisher in the server process.`,
    targets,
    clients: n,
    channel: { kind: 'one', name: 'room:fanout' },
    publishTo: ['room:fanout'],
    fanout: n,
    count,
    rate,
    burst: 1,
    shape: 'raw',
  });
}

function channels(s: Sizes, max: boolean): Scenario {
  const events = max ? s.channelsMaxEvents : s.channelsEvents;
  const ids = Array.from({ length: s.channels }, (_, i) => `bench-${i}`);
  return broadcastScenario({
    id: `channels-${s.channels}-${max ? 'max' : 'rate'}`,
    title: `Many channels, ${s.channels.toLocaleString('en')} task channels, ${max ? 'max rate' : `${s.channelsRate.toLocaleString('en')} updates/s`}`,
    what: `${s.channels.toLocaleString('en')} clients, each subscribed to its own \`task:\` channel; ${events.toLocaleString('en')} progress updates round-robin over the tasks${max ? ', as fast as the server goes (100 per I/O turn)' : ` at ${s.channelsRate.toLocaleString('en')}/s`}. taskwire runs the real task path (\`tasks.update\`: get, reduce, compare-and-set commit, events on \`task:\` and \`user:\`); \`taskwire-publish\` publishes the same task-shaped snapshot the others broadcast with a plain \`engine.publish\` (Hub and transport cost without the task service).`,
    targets: [...PEERS, 'taskwire-publish'],
    clients: s.channels,
    channel: { kind: 'each', prefix: 'task:bench-', modulo: s.channels },
    publishTo: ids.map((id) => `task:${id}`),
    fanout: 1,
    count: events,
    rate: max ? 0 : s.channelsRate,
    burst: 100,
    shape: 'task',
    tasks: ids,
  });
}

/**
 * Within each round of repeats, these run first (by id prefix): the scenarios with the
 * narrowest margins get a third repeat when the time budget leaves room for only part
 * of the last round. The report keeps the suite's order.
 */
export const RUN_FIRST = ['rooms-', 'tasks-', 'connect-', 'idle-'];

/** Publishers inside the server process: no ingest measured. Run once unless named in --scenarios. */
const diagnostic = (s: Scenario): Scenario => ({
  ...s,
  title: `Diagnostic: ${s.title}`,
  diagnostic: true,
  once: true,
  // In the default run: taskwire against the floor (and the engines), so the whole run stays under 10 minutes.
  brief: s.targets.filter((t) =>
    ['taskwire', 'taskwire-publish', 'ws', 'taskwire-redis-2n', 'socketio-redis-2n'].includes(t),
  ),
});

export function suite(quick: boolean): Scenario[] {
  const s = quick ? QUICK : FULL;
  const [small, large] = s.fanout;
  const [rSmall, rLarge] = s.fanoutRate;
  const [mSmall, mLarge] = s.fanoutMaxEvents;
  return [
    ...outsideScenarios(s.outside),
    // uws (no authentication, native) is left to the idle scenario: the connect floor is plain ws.
    connectScenario(['taskwire', 'ws', 'socketio', 'app-ws', 'app-socketio'], s.connect, s.connectConcurrency),
    // Memory per connection barely moves with a busy machine: measured once in the default run.
    { ...idleScenario(PEERS, s.idle), once: true },
    ...[
      fanout(small, rSmall, rSmall * s.fanoutSeconds, `${rSmall} events/s`, PEERS, `fanout-${small}-rate`),
      fanout(small, 0, mSmall, 'max rate', PEERS, `fanout-${small}-max`),
      fanout(large, rLarge, rLarge * s.fanoutSeconds, `${rLarge} events/s`, PEERS, `fanout-${large}-rate`),
      fanout(large, 0, mLarge, 'max rate', PEERS, `fanout-${large}-max`),
      channels(s, false),
      channels(s, true),
      recoveryScenario(s.storm.clients, s.storm.channels, s.storm.missed, s.storm.concurrency),
      {
        ...fanout(
          s.redisFanout,
          0,
          s.redisEvents,
          'max rate, by engine',
          ENGINES,
          `engines-fanout-${s.redisFanout}-max`,
        ),
        what: `As fan-out at max rate, by engine: taskwire memory, SQLite, Redis (one node) and Redis with two nodes (subscribers split over both, the publisher on the first: every event crosses Redis), against Socket.IO with @socket.io/redis-adapter on two nodes. Server CPU and RSS sum every node; the CPU also includes redis-server.`,
      },
    ].map(diagnostic),
  ];
}
