/**
 * The engine conformance suite: the memory, SQLite and Redis engines run it
 * unchanged. It tests the `Engine` contract only, never an engine's internals, and
 * every test uses fresh channel names, task ids and owners so engines backed by
 * shared storage (one Redis) can run it too.
 */
import { afterAll, afterEach, describe } from 'vitest';
import type { Engine, EngineLimits } from '../engine/types.js';
import { describeBatchConformance } from './conformance-batches.js';
import { describeChannelConformance } from './conformance-channels.js';
import { describeStreamConformance } from './conformance-streams.js';
import { describeMiscConformance } from './conformance-misc.js';
import { describeRetentionConformance } from './conformance-retention.js';
import { describeTaskConformance } from './conformance-tasks.js';
import { describeWebhookConformance } from './conformance-webhooks.js';

export interface EngineConformanceOptions {
  /** Runs once after the whole suite (drop a database, stop a server). */
  teardown?: () => Promise<void>;
}

export function runEngineConformance(
  name: string,
  factory: (limits?: Partial<EngineLimits>) => Promise<Engine>,
  opts: EngineConformanceOptions = {},
): void {
  describe(`engine conformance: ${name}`, () => {
    const open: Engine[] = [];

    /** A started engine, closed after the test. */
    async function engine(limits?: Partial<EngineLimits>): Promise<Engine> {
      const e = await factory(limits);
      open.push(e);
      await e.start();
      return e;
    }

    afterEach(async () => {
      for (const e of open.splice(0)) await e.close();
    });
    afterAll(async () => {
      await opts.teardown?.();
    });

    describeTaskConformance(engine);
    describeChannelConformance(engine);
    describeMiscConformance(engine, factory);
    describeBatchConformance(engine);
    describeStreamConformance(engine);
    describeRetentionConformance(engine);
    describeWebhookConformance(engine);
  });
}
