/** Connection scenarios: idle memory per connection, connect rate with authentication. */
import type { Deployment, TargetName } from '../harness.js';
import { USAGE_COLUMNS } from './outside.js';
import { sleep, type Metrics, type Scenario } from './types.js';

export function idleScenario(targets: TargetName[], connections: number): Scenario {
  return {
    id: `idle-${connections}`,
    title: `Idle memory, ${connections.toLocaleString('en')} connections`,
    what: `${connections.toLocaleString('en')} connected (and, for taskwire, authenticated) clients, each subscribed to its own \`room:\` channel, then idle; RSS and V8 heap growth (after a full GC) divided by the connections, and the server's CPU use while idle (2 s).`,
    targets,
    columns: [
      { key: 'rssPerConn', label: 'RSS KB/conn', digits: 2, better: 'lower', ratio: true, summary: true },
      { key: 'heapPerConn', label: 'V8 heap KB/conn', digits: 2, better: 'lower', ratio: true, summary: true },
      { key: 'rss', label: 'server RSS MB', digits: 0, better: 'lower' },
      { key: 'idleCpu', label: 'idle CPU %', digits: 1, better: 'lower' },
    ],
    async run(d: Deployment): Promise<Metrics> {
      await sleep(200);
      const heap0 = await d.heapUsed(true);
      const rss0 = d.rss();
      const o = await d.open({
        count: connections,
        channel: { kind: 'each', prefix: 'room:idle-', modulo: connections },
        concurrency: 200,
        timeoutMs: 30_000,
      });
      if (o.failed > 0) throw new Error(`${o.failed} clients failed to connect: ${o.firstError ?? ''}`);
      await sleep(1000);
      const heap1 = await d.heapUsed(true);
      await sleep(200);
      const rss1 = d.rss();
      // What the open, idle connections cost in CPU (timers, heartbeats, metrics), over 2 s.
      const cpu0 = d.cpuMicros();
      await sleep(2000);
      const idleCpu = (d.cpuMicros() - cpu0) / 2e4;
      return {
        rssPerConn: (rss1 - rss0) / 1024 / connections,
        heapPerConn: (heap1 - heap0) / 1024 / connections,
        rss: rss1 / 2 ** 20,
        idleCpu,
      };
    },
  };
}

export function connectScenario(targets: TargetName[], connections: number, concurrency: number): Scenario {
  return {
    id: `connect-${connections}`,
    title: `Connect rate, ${connections.toLocaleString('en')} connections, ${concurrency} in flight`,
    what: `Open ${connections.toLocaleString('en')} WebSockets, ${concurrency} at a time, each with its own JWT (HS256, signed by the load generator before the clock starts), each until it is usable: taskwire and app-ws until the \`welcome\` after an \`auth\` frame (the token verified), Socket.IO until the namespace \`40\` connect (app-socketio verifies the token of the CONNECT packet with jose; plain Socket.IO ignores it), ws and uws at the open handshake (no authentication: the floor). The rate is timed by the workers.`,
    targets,
    columns: [
      { key: 'connRate', label: 'connections/s', digits: 0, better: 'higher', ratio: true, summary: true },
      { key: 'cpuPerConn', label: 'server CPU µs/conn', digits: 1, better: 'lower', ratio: true, summary: true },
      { key: 'rss', label: 'server peak RSS MB', digits: 0, better: 'lower' },
      ...USAGE_COLUMNS.filter((c) => c.key.startsWith('others')),
    ],
    async run(d: Deployment): Promise<Metrics> {
      await sleep(200);
      await d.profile('start', `connect-${connections}`);
      const cpu0 = d.cpuMicros();
      const usage = d.usage();
      const o = await d.open({ count: connections, channel: { kind: 'none' }, concurrency, timeoutMs: 30_000 });
      // The workers' clock: from their first connect to their last client ready, not their token signing.
      const ms = o.ms;
      const cpu = d.cpuMicros() - cpu0;
      const used = usage();
      await d.profile('stop', `connect-${connections}`);
      if (o.failed > 0) throw new Error(`${o.failed} clients failed to connect: ${o.firstError ?? ''}`);
      return {
        connRate: (connections * 1000) / ms,
        cpuPerConn: cpu / connections,
        rss: d.peakRss() / 2 ** 20,
        ...used,
      };
    },
  };
}
