import { TaskwireError } from './errors.js';
import { DEFAULT_BATCH, MAX_CHILDREN, followChildren, progressOfChildren } from './batch.js';
import { isValidId } from './channels.js';
import { tooDeepMessage, valueTooDeep } from './json-depth.js';
import type { CreateTaskBody, UpdateTaskBody } from './http.js';
import { DEFAULT_STALL_TIMEOUT_MS, LIMITS, utf8Length } from './limits.js';
import {
  freezeDeep,
  isTerminalStatus,
  type BatchOptions,
  type Decision,
  type JsonValue,
  type Task,
  type TaskError,
  type TaskStatus,
} from './task.js';

/** Every way a task can change. reduce() is the only place their semantics live. */
export type TaskChange =
  /** The fields of `POST /tasks` (CreateTaskBody), with the id chosen. */
  | ({ type: 'create'; id: string } & Omit<CreateTaskBody, 'id'>)
  /** The fields of `PATCH /tasks/:id` (UpdateTaskBody). */
  | ({ type: 'update' } & UpdateTaskBody)
  /** Log lines arrived: activity only. A stalled task becomes running; otherwise no change. */
  | { type: 'activity' }
  | { type: 'request_approval'; prompt: string; options?: string[] }
  | { type: 'decide'; decision: Decision; comment?: string | null; by: string }
  | { type: 'cancel' }
  /** The server marks a running task that missed its stall deadline. */
  | { type: 'stall' }
  /**
   * A parent follows its children: every direct child's current snapshot (batch.ts).
   * `hold`: the parent is being cancelled, so it does not end by its children.
   */
  | { type: 'children'; children: readonly Task[]; hold?: boolean };

export type TaskChangeType = TaskChange['type'];

/** Target statuses a PATCH may ask for, per current status. */
const UPDATE_TARGETS: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ['queued', 'running', 'failed', 'cancelled'],
  running: ['running', 'succeeded', 'failed', 'cancelled'],
  stalled: ['running', 'succeeded', 'failed', 'cancelled'],
  awaiting_approval: ['awaiting_approval', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

const bad = (message: string): TaskwireError => new TaskwireError('bad_request', message);
const conflict = (message: string): TaskwireError => new TaskwireError('conflict', message);

/**
 * Apply a change to a task. Pure: `now` is passed in.
 *
 * Returns the new snapshot (version + 1, updatedAt = now), frozen (see freezeDeep),
 * sharing no object with `change` (JSON values given in it are copied) and unchanged
 * parts with `task`; or `null` when the
 * change leaves the snapshot as it is (a heartbeat on a running task, log
 * activity on a task that is not stalled). Throws `TaskwireError`:
 * `bad_request` for invalid fields, `conflict` for an illegal transition
 * (terminal states are final), `not_found` for a change to a missing task.
 */
export function reduce(task: Task | null, change: TaskChange, now: number): Task | null {
  const at = isoTime(now);
  if (change.type === 'create') {
    if (task) throw conflict(`task ${task.id} already exists`);
    return freezeDeep(create(change, at));
  }
  if (!task) throw new TaskwireError('not_found', 'task not found');
  const next = apply(task, change, at);
  if (next === null) return null;
  next.version = task.version + 1;
  next.updatedAt = at;
  if (next.status === 'running' && task.status !== 'running' && next.startedAt === null) next.startedAt = at;
  if (isTerminalStatus(next.status) && !isTerminalStatus(task.status)) next.finishedAt = at;
  return freezeDeep(next);
}

/** `now` as ISO 8601; the last one is kept (a busy server formats the same millisecond many times). */
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(now: number): string {
  if (now !== lastMs) {
    lastIso = new Date(now).toISOString();
    lastMs = now;
  }
  return lastIso;
}

function create(change: Extract<TaskChange, { type: 'create' }>, at: string): Task {
  if (!isValidId(change.id)) throw bad('id must be 1-128 characters of [A-Za-z0-9_.-@]');
  if (!isValidId(change.owner)) throw bad('owner must be 1-128 characters of [A-Za-z0-9_.-@]');
  if (change.parentId !== undefined && change.parentId !== null && !isValidId(change.parentId)) {
    throw bad('parentId must be 1-128 characters of [A-Za-z0-9_.-@]');
  }
  const title = optionalText(change.title, 'title', LIMITS.titleChars);
  const meta = change.meta === undefined ? {} : jsonObjectCopy(change.meta, 'meta');
  const stallTimeoutMs = change.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  if (!Number.isInteger(stallTimeoutMs) || stallTimeoutMs < 0 || stallTimeoutMs > LIMITS.maxStallTimeoutMs) {
    throw bad(`stallTimeoutMs must be an integer from 0 to ${LIMITS.maxStallTimeoutMs}`);
  }
  const batch = change.batch === undefined ? null : batchOptions(change.batch);
  return {
    id: change.id,
    owner: change.owner,
    title: title ?? null,
    status: 'queued',
    // A batch announced with expectedChildren has its slots from the start: 0, not null.
    progress: batch?.progressFrom === 'children' ? progressOfChildren([], batch) : null,
    stage: null,
    message: null,
    result: null,
    error: null,
    approval: null,
    meta,
    stallTimeoutMs,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    finishedAt: null,
    version: 1,
    parentId: change.parentId ?? null,
    batch,
    children: null,
    tags: tagsOf(change.tags),
    streams: {},
  };
}

function batchOptions(given: Partial<BatchOptions> | undefined): BatchOptions {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw bad('batch must be an object');
  const batch = { ...DEFAULT_BATCH, ...given };
  if (batch.progressFrom !== 'children' && batch.progressFrom !== 'self') {
    throw bad('batch.progressFrom must be children or self');
  }
  if (batch.completeWhen !== 'children' && batch.completeWhen !== 'self') {
    throw bad('batch.completeWhen must be children or self');
  }
  if (
    !Number.isInteger(batch.expectedChildren) ||
    batch.expectedChildren < 0 ||
    batch.expectedChildren > MAX_CHILDREN
  ) {
    throw bad(`batch.expectedChildren must be an integer from 0 to ${MAX_CHILDREN}`);
  }
  return {
    progressFrom: batch.progressFrom,
    expectedChildren: batch.expectedChildren,
    completeWhen: batch.completeWhen,
  };
}

function tagsOf(given: unknown): string[] {
  if (given === undefined) return [];
  if (!Array.isArray(given) || given.length > LIMITS.tags)
    throw bad(`tags must be an array of at most ${LIMITS.tags} ids`);
  const tags: string[] = [];
  for (const tag of given as unknown[]) {
    if (!isValidId(tag)) throw bad('each tag must be 1-128 characters of [A-Za-z0-9_.-@]');
    if (!tags.includes(tag)) tags.push(tag);
  }
  return tags;
}

function apply(task: Task, change: Exclude<TaskChange, { type: 'create' }>, at: string): Task | null {
  if (change.type === 'activity') {
    return task.status === 'stalled' ? { ...task, status: 'running' } : null;
  }
  // Derived from the children, so it applies to a parent that has ended too (its counts still follow).
  if (change.type === 'children') return followChildren(task, change.children, change.hold === true);
  if (isTerminalStatus(task.status)) throw conflict(`task is ${task.status}; terminal states are final`);
  switch (change.type) {
    case 'update':
      return update(task, change);
    case 'request_approval':
      return requestApproval(task, change, at);
    case 'decide':
      return decide(task, change, at);
    case 'cancel':
      return { ...task, status: 'cancelled' };
    case 'stall':
      if (task.status !== 'running') throw conflict(`only a running task can stall (it is ${task.status})`);
      return { ...task, status: 'stalled' };
  }
}

function update(task: Task, change: Extract<TaskChange, { type: 'update' }>): Task | null {
  const next: Task = { ...task };
  let changed = false;
  if (change.status !== undefined) {
    if (change.status === 'stalled') throw bad('status stalled is set by the server only');
    if (change.status === 'awaiting_approval' && task.status !== 'awaiting_approval') {
      throw bad('use POST /tasks/:id/approval to ask for approval');
    }
    if (!UPDATE_TARGETS[task.status].includes(change.status)) {
      throw conflict(`cannot go from ${task.status} to ${change.status}`);
    }
    if (change.status !== task.status) {
      next.status = change.status;
      changed = true;
    }
  }
  if (change.progress !== undefined) {
    if (task.batch?.progressFrom === 'children') {
      throw bad('progress of this batch follows its children (progressFrom: "children"); set stage or message');
    }
    const p = change.progress;
    if (p !== null && (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100)) {
      throw bad('progress must be a number from 0 to 100, or null');
    }
    changed ||= p !== task.progress;
    next.progress = p;
  }
  if (change.stage !== undefined) {
    next.stage = optionalText(change.stage, 'stage', LIMITS.stageChars) ?? null;
    changed ||= next.stage !== task.stage;
  }
  if (change.message !== undefined) {
    next.message = optionalText(change.message, 'message', LIMITS.messageChars) ?? null;
    changed ||= next.message !== task.message;
  }
  if (change.result !== undefined) {
    next.result = jsonCopy(change.result, 'result');
    changed = true;
  }
  if (change.error !== undefined) {
    next.error = normalizeError(change.error);
    changed = true;
  }
  if (change.meta !== undefined) {
    if (typeof change.meta !== 'object' || change.meta === null || Array.isArray(change.meta)) {
      throw bad('meta must be an object');
    }
    if (valueTooDeep(change.meta)) throw bad(tooDeepMessage('meta'));
    const text = JSON.stringify(change.meta);
    if (overLimit(text)) throw tooLarge('meta');
    const meta: Record<string, JsonValue> = { ...task.meta };
    for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, JsonValue | null>)) {
      if (v === null) delete meta[k];
      else meta[k] = v;
    }
    // The merged JSON is at most the old one plus the new part: measured only when that bound is over the limit.
    const bound = metaLength(task.meta) + text.length;
    metaLengths.set(meta, bound * 3 > LIMITS.jsonBytes ? exactLength(meta) : bound);
    next.meta = meta;
    changed = true;
  }
  // A worker that reports on a queued or stalled task is running it.
  if (change.status === undefined && (task.status === 'queued' || task.status === 'stalled')) {
    next.status = 'running';
    changed = true;
  }
  if (next.status === 'succeeded') next.progress = 100;
  if (next.status === 'failed' && next.error === null) next.error = { message: 'task failed' };
  return changed ? next : null;
}

function requestApproval(task: Task, change: Extract<TaskChange, { type: 'request_approval' }>, at: string): Task {
  if (task.status === 'awaiting_approval') throw conflict('an approval is already pending');
  const prompt = optionalText(change.prompt, 'prompt', LIMITS.approvalPromptChars);
  if (!prompt) throw bad('prompt is required');
  const options = change.options ?? [];
  if (!Array.isArray(options) || options.length > LIMITS.approvalOptions) {
    throw bad(`options must be an array of at most ${LIMITS.approvalOptions} strings`);
  }
  for (const o of options) {
    if (typeof o !== 'string' || o.length === 0 || o.length > LIMITS.approvalOptionChars) {
      throw bad(`each option must be a string of 1-${LIMITS.approvalOptionChars} characters`);
    }
  }
  return {
    ...task,
    status: 'awaiting_approval',
    approval: {
      prompt,
      options: [...options],
      requestedAt: at,
      decision: null,
      comment: null,
      decidedBy: null,
      decidedAt: null,
    },
  };
}

function decide(task: Task, change: Extract<TaskChange, { type: 'decide' }>, at: string): Task {
  if (task.status !== 'awaiting_approval' || !task.approval || task.approval.decision !== null) {
    throw conflict('no approval is pending');
  }
  if (change.decision !== 'approve' && change.decision !== 'reject') throw bad('decision must be approve or reject');
  const comment = optionalText(change.comment, 'comment', LIMITS.commentChars) ?? null;
  const approval = { ...task.approval, decision: change.decision, comment, decidedBy: change.by, decidedAt: at };
  if (change.decision === 'approve') return { ...task, status: 'running', approval };
  return {
    ...task,
    status: 'failed',
    approval,
    error: { code: 'rejected', message: comment ? `rejected: ${comment}` : `rejected by ${change.by}` },
  };
}

function optionalText(value: unknown, field: string, max: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') throw bad(`${field} must be a string`);
  if (value.length > max) throw bad(`${field} must be at most ${max} characters`);
  return value;
}

function normalizeError(value: TaskError | string | null): TaskError | null {
  if (value === null) return null;
  if (typeof value === 'string') {
    if (value.length > LIMITS.errorMessageChars)
      throw bad(`error must be at most ${LIMITS.errorMessageChars} characters`);
    return { message: value };
  }
  if (typeof value !== 'object' || typeof value.message !== 'string') {
    throw bad('error must be a string or {message, code?}');
  }
  if (value.message.length > LIMITS.errorMessageChars) {
    throw bad(`error.message must be at most ${LIMITS.errorMessageChars} characters`);
  }
  if (value.code !== undefined && (typeof value.code !== 'string' || value.code.length > 100)) {
    throw bad('error.code must be a string of at most 100 characters');
  }
  return value.code === undefined ? { message: value.message } : { message: value.message, code: value.code };
}

const tooLarge = (field: string): TaskwireError => bad(`${field} must be at most ${LIMITS.jsonBytes} bytes of JSON`);

/** JSON text over the size limit (a UTF-16 unit is at most 3 UTF-8 bytes: short texts are not counted). */
function overLimit(text: string): boolean {
  return text.length * 3 > LIMITS.jsonBytes && utf8Length(text) > LIMITS.jsonBytes;
}

/** A copy of a JSON value from a change, within the size limit: a snapshot never aliases the caller's objects. */
function jsonCopy(value: unknown, field: string): JsonValue {
  if (valueTooDeep(value)) throw bad(tooDeepMessage(field));
  const text = JSON.stringify(value) ?? 'null';
  if (overLimit(text)) throw tooLarge(field);
  // Through JSON and back: what is left is a JSON value (undefined became null).
  return typeof value === 'object' && value !== null ? (JSON.parse(text) as JsonValue) : ((value ?? null) as JsonValue);
}

/**
 * JSON text lengths of meta objects reduce() made, or an upper bound of them (snapshots
 * are immutable, so a length stays true): a meta update then needs no second
 * serialization of the merged meta to check its size.
 */
const metaLengths = new WeakMap<object, number>();

function metaLength(meta: Record<string, JsonValue>): number {
  let n = metaLengths.get(meta);
  if (n === undefined) metaLengths.set(meta, (n = JSON.stringify(meta).length));
  return n;
}

/** The merged meta's exact length, refused over the limit. */
function exactLength(meta: Record<string, JsonValue>): number {
  const text = JSON.stringify(meta);
  if (overLimit(text)) throw tooLarge('meta');
  return text.length;
}

function jsonObjectCopy(value: unknown, field: string): Record<string, JsonValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${field} must be an object`);
  return jsonCopy(value, field) as Record<string, JsonValue>;
}
