/**
 * The load generator's publisher processes (client/publisher.ts), each with its own
 * connection(s) to the target, pinned to the client CPUs like the client workers.
 */
import { join } from 'node:path';
import { cpuSets, forkChild, type Forked } from './children.js';
import type { PublisherConnect, PublisherRun } from './client/publisher.js';
import type { PaceResult } from './client/pacing.js';
import { mergeHistograms, type HistogramData } from './histogram.js';

export interface RunTotals {
  sent: number;
  acked: number;
  errors: number;
  firstError: string | null;
  /** The slowest publisher's time from its first send to its last reply. */
  ms: number;
  replyLatency: HistogramData;
}

export class Publishers {
  readonly procs: Forked[] = [];

  static async start(dist: string, count: number): Promise<Publishers> {
    const p = new Publishers();
    try {
      const forks = Array.from({ length: count }, (_, i) =>
        forkChild(join(dist, 'client/publisher.js'), { name: `publisher ${i}`, args: [], cpuList: cpuSets()?.clients }),
      );
      const started = await Promise.allSettled(forks);
      for (const s of started) if (s.status === 'fulfilled') p.procs.push(s.value);
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid);
  }

  async connect(args: (i: number) => PublisherConnect): Promise<void> {
    await Promise.all(this.procs.map((p, i) => p.rpc.call('connect', args(i), 30_000)));
  }

  /** Every publisher runs `args(i)` at once; the totals over all of them. */
  async run(args: (i: number) => PublisherRun): Promise<RunTotals> {
    const results = await Promise.all(
      this.procs.map((p, i) => {
        const a = args(i);
        return p.rpc.call<PaceResult>('run', a, a.maxMs + 30_000);
      }),
    );
    return {
      sent: results.reduce((s, r) => s + r.sent, 0),
      acked: results.reduce((s, r) => s + r.acked, 0),
      errors: results.reduce((s, r) => s + r.errors, 0),
      firstError: results.find((r) => r.firstError)?.firstError ?? null,
      ms: Math.max(...results.map((r) => r.ms)),
      replyLatency: mergeHistograms(results.map((r) => r.replyLatency)),
    };
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.procs.map((p) => p.stop()));
  }
}
