import type { CreateTaskBody, Decision, Task, TaskStatus, UpdateTaskBody } from '@taskwire/protocol';
import type { Principal } from '../auth/types.js';

/** The fields of a create: the schema of `POST /tasks` (@taskwire/protocol's CreateTaskBody). */
export type CreateTaskInput = CreateTaskBody;

/** The fields of an update: the schema of `PATCH /tasks/:id` (@taskwire/protocol's UpdateTaskBody). */
export type UpdateTaskInput = UpdateTaskBody;

/**
 * The task service: get → reduce() → Engine.commit with compare-and-set, retried on
 * conflict; publishes `task.created`/`task.updated` on `task:<id>` and `user:<owner>`,
 * `task.log` on `task:<id>` only. Every method throws TaskwireError with a catalogue code.
 */
export interface TaskService {
  /** `created: false` when the idempotency key was seen before (no new event). */
  create(input: CreateTaskInput, idempotencyKey?: string): Promise<{ task: Task; created: boolean }>;
  update(id: string, input: UpdateTaskInput): Promise<Task>;
  /**
   * update() in this turn when it can be (an engine with synchronous storage and no
   * other change of the task in flight on this node): the new snapshot; null when the
   * change has to wait (then call update()). Throws what update() rejects with.
   */
  updateNow?(id: string, input: UpdateTaskInput): Task | null;
  appendLogs(id: string, lines: string[]): Promise<Task>;
  /**
   * Append a chunk to a task's stream (`output` when not named); the stream's chunk
   * count after it. With `index`, a chunk the stream already has is not appended again.
   */
  appendStream(id: string, text: string, stream?: string, index?: number): Promise<{ stream: string; chunks: number }>;
  /** A stream's whole text so far. Permission checks are the caller's. */
  readStream(id: string, stream: string): Promise<{ stream: string; text: string; chunks: number }>;
  requestApproval(id: string, prompt: string, options?: string[]): Promise<Task>;
  decide(id: string, decision: Decision, comment: string | null | undefined, by: string): Promise<Task>;
  cancel(id: string): Promise<Task>;
  /**
   * Delete a task that has ended, with its tree (protocol 1.1 §8): `not_found`, or
   * `conflict` for a task (or a descendant) that has not ended, or a child of a batch.
   */
  delete(id: string): Promise<{ taskId: string; deleted: number }>;
  /** Delete every tree whose tasks have all been terminal for longer than the TTL; how many tasks. */
  sweepExpired(now?: number): Promise<number>;
  /** null when missing. Permission checks are the caller's. */
  get(id: string): Promise<Task | null>;
  list(req: {
    owner?: string;
    status?: TaskStatus;
    /** Only the direct children of this batch. */
    parent?: string;
    /** Only tasks with this tag. */
    tag?: string;
    limit: number;
    cursor?: string;
  }): Promise<{ tasks: Task[]; nextCursor: string | null }>;
  /** Mark every running task past its deadline as stalled (each once, across nodes). Returns how many. */
  sweepStalls(now?: number): Promise<number>;
  /** Start the periodic stall sweep (every `intervalMs`) and the retention sweep; stop() ends them. */
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Who may read a task: its owner, an admin, the API key. */
export function canReadTask(p: Principal, task: Task): boolean {
  return p.apiKey || p.admin || task.owner === p.sub;
}
