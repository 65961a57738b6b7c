/**
 * Task streams (protocol 1.1 §8): output that grows while a task runs. A chunk is one
 * `task.stream` event on `task:<id>` with its 0-based `index`; the engine keeps every
 * chunk as long as the task, and the snapshot's `streams` summary current without a
 * version change. Appends to one task from this node run one after the other; the
 * engine's check of the chunk count (compare-and-set) arbitrates between nodes.
 */
import {
  LIMITS,
  StreamBody,
  TaskwireError,
  firstProblem,
  isTerminalStatus,
  taskChannel,
  type Task,
  type TaskEventData,
} from '@taskwire/protocol';
import type { Engine, StreamAppendRequest, StreamAppendResult } from '../engine/types.js';
import type { Changes } from './changes.js';
import { backoff, stallAtOf, viaEngine } from './commits.js';

/** The stream a chunk goes to when none is named. */
export const DEFAULT_STREAM = 'output';

export class Streams {
  constructor(
    private readonly engine: Engine,
    private readonly changes: Changes,
    private readonly now: () => number,
    private readonly maxAttempts: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Append `text` to the task's stream; the stream's chunk count after it. With
   * `index` (a retry-safe append), a chunk the stream already has is not appended again
   * and one past the next is `conflict`.
   */
  append(
    id: string,
    text: string,
    stream: string = DEFAULT_STREAM,
    index?: number,
  ): Promise<{ stream: string; chunks: number }> {
    const problem = firstProblem(StreamBody, { text, stream, ...(index !== undefined ? { index } : {}) }, 'chunk');
    if (problem !== null) return Promise.reject(new TaskwireError('bad_request', problem));
    return this.changes.serialized(id, () => this.appendWithRetry(id, text, stream, index));
  }

  /** Every chunk so far, joined (same permissions as the task: the caller checks them). */
  async read(id: string, stream: string): Promise<{ stream: string; text: string; chunks: number }> {
    const { text, chunks } = await viaEngine('readStream', () => this.engine.readStream(id, stream));
    return { stream, text, chunks };
  }

  private async appendWithRetry(
    id: string,
    text: string,
    stream: string,
    index: number | undefined,
  ): Promise<{ stream: string; chunks: number }> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await backoff(attempt);
      let task = await viaEngine('getTask', () => this.engine.getTask(id));
      if (task === null) throw new TaskwireError('not_found', `task ${id} not found`);
      const have = task.streams[stream]?.chunks ?? 0;
      if (index !== undefined && index < have) return { stream, chunks: have }; // a retry of a chunk already there
      if (index !== undefined && index > have) {
        throw new TaskwireError('conflict', `stream ${stream} has ${have} chunks; chunk ${index} would leave a gap`);
      }
      if (isTerminalStatus(task.status))
        throw new TaskwireError('conflict', `task is ${task.status}; its streams are final`);
      // Output is activity: a stalled task is running again (its own update), then the chunk.
      if (task.status === 'stalled') task = await this.changes.applyInTurn(id, { type: 'activity' });
      const result = await this.commit(this.request(task, text, stream));
      if (result.ok) return { stream, chunks: result.summary.chunks };
      // Lost a race: with an index, the other append may have been this chunk (a retry).
      if (result.reason === 'not_found') throw new TaskwireError('not_found', `task ${id} not found`);
      if (result.reason === 'too_large') {
        throw new TaskwireError(
          'bad_request',
          `stream ${stream} would be over ${this.maxBytes} bytes (--stream-max-bytes)`,
        );
      }
      if (result.reason === 'too_many') {
        throw new TaskwireError('bad_request', `a task has at most ${LIMITS.streamsPerTask} streams`);
      }
    }
    throw new TaskwireError(
      'conflict',
      `stream ${stream} of task ${id} is written too fast from several nodes; try again`,
    );
  }

  private request(task: Task, text: string, stream: string): StreamAppendRequest {
    const index = task.streams[stream]?.chunks ?? 0;
    const data: TaskEventData = { kind: 'task.stream', taskId: task.id, stream, index, text };
    return {
      taskId: task.id,
      stream,
      index,
      text,
      event: { channel: taskChannel(task.id), data, json: JSON.stringify(data) },
      stallAt: stallAtOf(task, this.now()),
      maxBytes: this.maxBytes,
      maxStreams: LIMITS.streamsPerTask,
    };
  }

  private commit(req: StreamAppendRequest): Promise<StreamAppendResult> {
    const sync = this.engine.sync;
    if (sync) {
      try {
        return Promise.resolve(sync.appendStream(req));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return viaEngine('appendStream', () => this.engine.appendStream(req));
  }
}
