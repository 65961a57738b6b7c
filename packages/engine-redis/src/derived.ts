/**
 * The derived half of a task commit (the two-step commit, docs/scaling.md). commit.lua
 * writes the snapshot, its `task:<id>` events and a job describing the rest into the
 * task's slot atomically; this module then applies the job, which touches other slots:
 * the mirrored events on `user:<owner>` (append.lua, deduplicated per job, so
 * the user feed keeps its own gapless offsets and a replay never doubles an event) and
 * the task indexes (index.lua, idempotent and version-guarded). The job leaves the
 * task's pending list only once all of it is done. A job left behind (Redis went away
 * mid-way, the node died) is replayed by the next commit of that task, in version order.
 */
import type { StoredEvent } from '@taskwire/server/engine';
import type { Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';

export interface Job {
  /** Unique per commit: names the mirror dedupe keys (two event-only commits share a version). */
  id: string;
  taskId: string;
  version: number;
  owner: string;
  /** `<createdAt> <id>` for a create (added to the list indexes), else ''. */
  member: string;
  stallAt: number | null;
  /** For a top-level task that ended: its member of the expiry index (retention.ts); else '' (absent in older jobs). */
  expiry?: string;
  /** Events for channels outside the task's slot, with their index in the commit's events. */
  mirror: Array<{ index: number; channel: string; data: string }>;
}

export interface ChannelSettings {
  sharded: boolean;
  historySize: number;
  historyTtlMs: number;
  metaTtlMs: number;
  idempotencyTtlMs: number;
  newEpoch: () => string;
}

/** The arguments append.lua takes after its KEYS (see its header). */
export function appendArgs(
  s: ChannelSettings,
  keys: Keys,
  channel: string,
  data: string,
  dedupe: boolean,
): Array<string | number> {
  return [
    s.newEpoch(),
    s.historySize,
    s.historyTtlMs,
    s.metaTtlMs,
    s.sharded ? '1' : '0',
    JSON.stringify(channel),
    keys.channel(channel).pubsub,
    dedupe ? '1' : '0',
    s.idempotencyTtlMs,
    data,
  ];
}

/** Parse an `{flag, event JSON}` reply of append.lua. */
export function parseAppend(reply: unknown): { duplicate: boolean; event: StoredEvent } {
  if (!Array.isArray(reply) || typeof reply[1] !== 'string') throw new Error('append.lua: unexpected reply');
  return { duplicate: reply[0] === 1, event: JSON.parse(reply[1]) as StoredEvent };
}

export class DerivedWriter {
  constructor(
    private readonly client: Client,
    private readonly keys: Keys,
    private readonly settings: ChannelSettings,
  ) {}

  /**
   * Apply the task's pending jobs in order (`jobs` as commit.lua returned them, the
   * caller's own last). Returns the mirrored events of the job `mine`, by index.
   */
  async apply(jobs: readonly string[], mine: string): Promise<Map<number, StoredEvent>> {
    let result = new Map<number, StoredEvent>();
    for (const raw of jobs) {
      const events = await this.applyOne(JSON.parse(raw) as Job, raw);
      if (raw === mine) result = events;
    }
    return result;
  }

  /** Apply whatever jobs the task still has pending (a retry after a failed derived step). */
  async replay(taskId: string): Promise<void> {
    const jobs = await this.client.lrange(this.keys.pending(taskId), 0, -1);
    for (const raw of jobs) await this.applyOne(JSON.parse(raw) as Job, raw);
  }

  private async applyOne(job: Job, raw: string): Promise<Map<number, StoredEvent>> {
    const events = new Map<number, StoredEvent>();
    for (const m of job.mirror) {
      const ck = this.keys.channel(m.channel);
      const reply = await scripts().append.run(
        this.client,
        [ck.meta, ck.stream, ck.mirrorKey(job.id, m.index)],
        appendArgs(this.settings, this.keys, m.channel, m.data, true),
      );
      events.set(m.index, parseAppend(reply).event);
    }
    const idx = this.keys.index;
    await scripts().index.run(
      this.client,
      [idx.all, idx.owner(job.owner), idx.stalls, idx.stallVersions, idx.expiry],
      [job.member, job.taskId, job.version, job.stallAt ?? '', job.expiry ?? ''],
    );
    await this.client.lrem(this.keys.pending(job.taskId), 1, raw);
    return events;
  }
}
