/**
 * Reads over the task indexes in the `{idx}` slot: the task list (newest first, with
 * the memory engine's cursor and ordering) and due stall deadlines. The indexes are
 * derived from the snapshots (applied just after a commit, see derived.ts), so every
 * answer is checked against the snapshot, which is the truth.
 */
import { MAX_CHILDREN, type Task } from '@taskwire/protocol';
import { listMember, type Keys } from './keys.js';
import { readSnapshot } from './streams.js';
import {
  decodeCursor,
  encodeCursor,
  type ListTasksRequest,
  type ListTasksResult,
  type SortKey,
} from '@taskwire/server/engine';
import type { Client } from './scripts.js';

/** Index entries read per round trip while filtering. */
const BATCH = 100;
/** Round trips one dueStalls call may make (bounded work per sweep). */
const MAX_STALL_ROUNDS = 10;

function sortKeyOf(member: string): SortKey {
  const space = member.lastIndexOf(' ');
  return [member.slice(0, space), member.slice(space + 1)];
}

export class TaskIndex {
  constructor(
    private readonly client: Client,
    private readonly keys: Keys,
  ) {}

  /** Snapshots by id, in order (null for a missing one). One command each: ids live in different slots. */
  async snapshots(ids: readonly string[]): Promise<Array<Task | null>> {
    const raw = await Promise.all(ids.map((id) => this.client.hmget(this.keys.task(id), 'json', 'streams')));
    return raw.map(([json, streams]) => readSnapshot(json ?? null, streams));
  }

  async list(req: ListTasksRequest): Promise<ListTasksResult> {
    const limit = Math.max(1, Math.floor(req.limit));
    // The narrowest index that holds every match; the other filters are checked on the snapshots.
    const key =
      req.parent !== undefined
        ? this.keys.index.parent(req.parent)
        : req.tag !== undefined
          ? this.keys.index.tag(req.tag)
          : req.owner === undefined
            ? this.keys.index.all
            : this.keys.index.owner(req.owner);
    // Lexicographic range bounds: '(' excludes the cursor's own member, '+' is the top.
    let max = req.cursor === undefined ? '+' : `(${decodeCursor(req.cursor).join(' ')}`;
    const tasks: Task[] = [];
    let last: SortKey | null = null;
    for (;;) {
      const members = await this.client.zrevrangebylex(key, max, '-', 'LIMIT', 0, BATCH);
      if (members.length === 0) return { tasks, nextCursor: null };
      const found = await this.snapshots(members.map((m) => sortKeyOf(m)[1]));
      for (const [i, task] of found.entries()) {
        if (!task) continue;
        if (req.owner !== undefined && task.owner !== req.owner) continue;
        if (req.status !== undefined && task.status !== req.status) continue;
        if (req.parent !== undefined && task.parentId !== req.parent) continue;
        if (req.tag !== undefined && !task.tags.includes(req.tag)) continue;
        // One match past a full page: there is a next page.
        if (tasks.length === limit) return { tasks, nextCursor: encodeCursor(last as SortKey) };
        tasks.push(task);
        last = sortKeyOf(members[i] as string);
      }
      if (members.length < BATCH) return { tasks, nextCursor: null };
      max = `(${members.at(-1) as string}`;
    }
  }

  /**
   * A new task's entries in its parent's and its tags' indexes, written before its
   * commit: a crash in between leaves an entry without its task (skipped when read),
   * never a child its parent cannot find.
   */
  async addMembership(task: Task): Promise<void> {
    const member = listMember(task.createdAt, task.id);
    const writes: Array<Promise<unknown>> = task.tags.map((tag) =>
      this.client.zadd(this.keys.index.tag(tag), 0, member),
    );
    if (task.parentId !== null) writes.push(this.client.zadd(this.keys.index.parent(task.parentId), 0, member));
    await Promise.all(writes);
  }

  /** Every child of a parent, from its index (an entry whose task is missing or has another parent is skipped). */
  async children(parentId: string): Promise<Task[]> {
    const members = await this.client.zrange(this.keys.index.parent(parentId), '0', String(MAX_CHILDREN - 1));
    const found = await this.snapshots(members.map((m) => sortKeyOf(m)[1]));
    return found.filter((t): t is Task => t !== null && t.parentId === parentId);
  }

  /**
   * Tasks whose stored deadline (the snapshot's `stallAt`, not the index) is at or
   * before `now`. An index entry that disagrees with its snapshot is skipped: its
   * pending index update will correct it.
   */
  async due(now: number, limit: number): Promise<Task[]> {
    const want = Math.max(0, Math.floor(limit));
    const out: Task[] = [];
    for (let round = 0, offset = 0; out.length < want && round < MAX_STALL_ROUNDS; round++) {
      const ids = await this.client.zrangebyscore(this.keys.index.stalls, '-inf', now, 'LIMIT', offset, BATCH);
      const rows = await Promise.all(
        ids.map((id) => this.client.hmget(this.keys.task(id), 'json', 'stallAt', 'streams')),
      );
      for (const [json, stallAt, streams] of rows) {
        if (out.length === want) break;
        const task = json && stallAt && Number(stallAt) <= now ? readSnapshot(json, streams) : null;
        if (task) out.push(task);
      }
      if (ids.length < BATCH) break;
      offset += ids.length;
    }
    return out;
  }
}
