/**
 * Recovery storm (taskwire only: plain ws, Socket.IO and uws have no recovery): the
 * clients, subscribed to `channels` rooms, all drop at once; each channel then gets
 * `missed` events; all reconnect with `since` (in flight at most `concurrency`).
 * Measured: time until every client has its reply with `recovered: true` and exactly
 * the missed events, in order.
 */
import { mergeHistograms, quantile } from '../histogram.js';
import type { Deployment } from '../harness.js';
import { now, sleep, type Metrics, type Scenario } from './types.js';

export function recoveryScenario(clients: number, channels: number, missed: number, concurrency: number): Scenario {
  return {
    id: `recovery-${clients}`,
    title: `Recovery storm, ${clients.toLocaleString('en')} clients`,
    what: `${clients.toLocaleString('en')} clients on ${channels} \`room:\` channels drop at once; each channel gets ${missed} events; all reconnect (${concurrency} in flight), authenticate and subscribe with \`since\`. Time from the first reconnect until the last client holds a \`recovered: true\` reply with exactly its ${missed} missed events. Only taskwire is measured: plain ws and uws have no recovery, and Socket.IO's opt-in connection state recovery is not set up here.`,
    targets: ['taskwire'],
    notApplicable: {
      ws: 'no recovery: a reconnecting client gets no missed events',
      socketio:
        'not measured: its connectionStateRecovery option (off by default; in-memory or Redis Streams adapter) is the nearest equivalent',
      uws: 'no recovery',
    },
    columns: [
      { key: 'allMs', label: 'all recovered, ms', digits: 0, better: 'lower' },
      { key: 'p50', label: 'client p50 ms', digits: 0, better: 'lower' },
      { key: 'p99', label: 'client p99 ms', digits: 0, better: 'lower' },
      { key: 'recoveredPct', label: 'recovered %', digits: 1, better: 'higher' },
      { key: 'cpuPerClient', label: 'server CPU µs/client', digits: 0, better: 'lower' },
      { key: 'rss', label: 'server peak RSS MB', digits: 0, better: 'lower' },
    ],
    async run(d: Deployment): Promise<Metrics> {
      const names = Array.from({ length: channels }, (_, i) => `room:storm-${i}`);
      const o = await d.open({
        count: clients,
        channel: { kind: 'each', prefix: 'room:storm-', modulo: channels },
        concurrency: 200,
        timeoutMs: 30_000,
      });
      if (o.failed > 0) throw new Error(`${o.failed} clients failed to connect: ${o.firstError ?? ''}`);
      // A few live events first, so every client holds a real position.
      const warm = channels * 5;
      await d.publish({
        channels: names,
        count: warm,
        rate: 0,
        burst: channels,
        maxMs: 30_000,
        shape: 'raw',
        padBytes: 64,
      });
      await d.awaitDelivery(warm * (clients / channels), 30_000);
      await d.dropClients();
      await sleep(500);
      await d.publish({
        channels: names,
        count: channels * missed,
        rate: 0,
        burst: 100,
        maxMs: 60_000,
        shape: 'raw',
        padBytes: 64,
      });
      const cpu0 = d.cpuMicros();
      const t0 = now();
      const results = await d.recoverClients(concurrency, 30_000);
      const allMs = now() - t0;
      const cpu = d.cpuMicros() - cpu0;
      const recovered = results.reduce((s, r) => s + r.recovered, 0);
      const bad = results.reduce((s, r) => s + r.badReplays + r.failed + r.notRecovered, 0);
      const hist = mergeHistograms(results.map((r) => r.latency));
      if (bad > 0) {
        const first = results.find((r) => r.firstError)?.firstError ?? '';
        throw new Error(`${bad} clients did not recover cleanly ${first}`);
      }
      return {
        allMs,
        p50: quantile(hist, 0.5) / 1000,
        p99: quantile(hist, 0.99) / 1000,
        recoveredPct: (100 * recovered) / clients,
        cpuPerClient: cpu / clients,
        rss: d.peakRss() / 2 ** 20,
      };
    },
  };
}
