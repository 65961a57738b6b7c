/**
 * Retention (protocol 1.1 §8): `DELETE /tasks/:id`, and the sweep that deletes every
 * tree whose tasks have all been terminal for longer than `--task-ttl`.
 *
 * The sweep pages through the engine's expired top-level tasks and deletes them one
 * few trees at a time (`TUNING.retentionDeleteBatch` per engine call), yielding to the event loop after every `TUNING.retentionSliceMs` of
 * work, at most `TUNING.retentionSweepRounds` pages per run. With several nodes, one node sweeps per
 * interval (the node that claims `retention:<interval number>` in the engine), and
 * deleting is idempotent, so two sweeps that overlap (a slow one, clocks apart) are
 * safe: a tree is deleted once, the second attempt answers `not_found`.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { TaskwireError } from '@taskwire/protocol';
import { TUNING } from '../config/options.js';
import type { Engine, ExpiredTask } from '../engine/types.js';
import { viaEngine } from './commits.js';

/** The sweep interval for a TTL: a tenth of it, within the TUNING bounds. */
export function retentionIntervalMs(ttlMs: number): number {
  return Math.min(TUNING.retentionSweepMaxMs, Math.max(TUNING.retentionSweepMinMs, Math.floor(ttlMs / 10)));
}

export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** 0: keep for ever. */
    readonly ttlMs: number,
    private readonly batch: number = TUNING.retentionSweepBatch,
  ) {}

  /** Delete a task that has ended, with its tree, now. */
  async delete(id: string): Promise<{ taskId: string; deleted: number }> {
    const [result] = await viaEngine('deleteTrees', () => this.engine.deleteTrees([{ id }]));
    if (!result) throw new TaskwireError('internal', 'deleteTrees answered nothing');
    if (result.ok) return { taskId: id, deleted: result.deleted };
    switch (result.reason) {
      case 'not_found':
        throw new TaskwireError('not_found', `task ${id} not found`);
      case 'child':
        throw new TaskwireError(
          'conflict',
          `task ${id} is a child of ${result.parentId}: a batch is deleted whole, with its top-level task`,
        );
      case 'active':
      case 'not_expired':
        throw new TaskwireError(
          'conflict',
          result.taskId === id
            ? `task ${id} has not ended: only a finished task can be deleted (cancel it first)`
            : `task ${id} has a descendant that has not ended (${result.taskId}): only a finished tree can be deleted`,
        );
    }
  }

  /** Delete every tree expired at `now`; how many tasks were deleted. */
  async sweep(now: number = this.now()): Promise<number> {
    if (this.ttlMs <= 0) return 0;
    const before = now - this.ttlMs;
    let deleted = 0;
    let after: ExpiredTask | undefined;
    let slice = performance.now();
    for (let round = 0; round < TUNING.retentionSweepRounds; round++) {
      const req = { before, limit: this.batch, ...(after ? { after } : {}) };
      const page = await viaEngine('expired', () => this.engine.expired(req));
      for (let i = 0; i < page.length; i += TUNING.retentionDeleteBatch) {
        const reqs = page.slice(i, i + TUNING.retentionDeleteBatch).map((c) => ({ id: c.id, finishedBefore: before }));
        const results = await viaEngine('deleteTrees', () => this.engine.deleteTrees(reqs));
        for (const result of results) if (result.ok) deleted += result.deleted;
        // Work in slices: a busy node's other work gets its turn, and the sweep still keeps up with it.
        if (performance.now() - slice >= TUNING.retentionSliceMs) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
      if (page.length < this.batch) break;
      after = page.at(-1);
    }
    return deleted;
  }

  /** Sweep every interval (none with a TTL of 0); one node per interval across nodes. */
  start(): void {
    if (this.timer || this.ttlMs <= 0) return;
    const interval = retentionIntervalMs(this.ttlMs);
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.claimedSweep(interval)
        .then((n) => {
          if (n > 0) this.logger.info({ deleted: n }, 'retention: deleted expired tasks');
        })
        .catch((err: unknown) => this.logger.error({ err }, 'retention sweep failed'))
        .finally(() => {
          this.sweeping = null;
        });
    }, interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }

  private async claimedSweep(interval: number): Promise<number> {
    const now = this.now();
    const slot = Math.floor(now / interval);
    const mine = await viaEngine('claim', () => this.engine.claim(`retention:${slot}`, interval));
    return mine ? this.sweep(now) : 0;
  }
}
