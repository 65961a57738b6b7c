import { describe, expect, it } from 'vitest';
import { TaskwireError, type ErrorCode } from './errors.js';
import { LIMITS } from './limits.js';
import { reduce, type TaskChange } from './reduce.js';
import { TASK_STATUSES, type Task, type TaskStatus } from './task.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const T1 = T0 + 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

function taskIn(status: TaskStatus, overrides: Partial<Task> = {}): Task {
  return {
    id: 'build-42',
    owner: 'alice',
    title: null,
    status,
    progress: null,
    stage: null,
    message: null,
    result: null,
    error: null,
    approval:
      status === 'awaiting_approval'
        ? {
            prompt: 'Ship?',
            options: [],
            requestedAt: iso(T0),
            decision: null,
            comment: null,
            decidedBy: null,
            decidedAt: null,
          }
        : null,
    meta: {},
    stallTimeoutMs: 60_000,
    createdAt: iso(T0),
    updatedAt: iso(T0),
    startedAt: status === 'queued' ? null : iso(T0),
    finishedAt: null,
    version: 5,
    parentId: null,
    batch: null,
    children: null,
    tags: [],
    streams: {},
    ...overrides,
  };
}

/** What a change leads to: the new status, `null` (no snapshot change), or the error code thrown. */
type Outcome = TaskStatus | null | { error: ErrorCode };

function outcome(task: Task, change: TaskChange): Outcome {
  try {
    return reduce(task, change, T1)?.status ?? null;
  } catch (err) {
    if (err instanceof TaskwireError) return { error: err.code };
    throw err;
  }
}

const CHANGES = {
  'update → queued': { type: 'update', status: 'queued' },
  'update → running': { type: 'update', status: 'running' },
  'update → awaiting_approval': { type: 'update', status: 'awaiting_approval' },
  'update → stalled': { type: 'update', status: 'stalled' },
  'update → succeeded': { type: 'update', status: 'succeeded' },
  'update → failed': { type: 'update', status: 'failed' },
  'update → cancelled': { type: 'update', status: 'cancelled' },
  'update fields only': { type: 'update', progress: 10, stage: 'x' },
  'empty update': { type: 'update' },
  activity: { type: 'activity' },
  request_approval: { type: 'request_approval', prompt: 'Ship?' },
  'decide approve': { type: 'decide', decision: 'approve', by: 'alice' },
  'decide reject': { type: 'decide', decision: 'reject', by: 'alice' },
  cancel: { type: 'cancel' },
  stall: { type: 'stall' },
} as const satisfies Record<string, TaskChange>;

type ChangeName = keyof typeof CHANGES;

const bad = { error: 'bad_request' } as const;
const conflict = { error: 'conflict' } as const;

const terminal: Record<ChangeName, Outcome> = {
  'update → queued': conflict,
  'update → running': conflict,
  'update → awaiting_approval': conflict,
  'update → stalled': conflict,
  'update → succeeded': conflict,
  'update → failed': conflict,
  'update → cancelled': conflict,
  'update fields only': conflict,
  'empty update': conflict,
  // Log lines after the end are accepted (a worker flushing its last lines); they change nothing.
  activity: null,
  request_approval: conflict,
  'decide approve': conflict,
  'decide reject': conflict,
  cancel: conflict,
  stall: conflict,
};

const TABLE: Record<TaskStatus, Record<ChangeName, Outcome>> = {
  queued: {
    'update → queued': null,
    'update → running': 'running',
    'update → awaiting_approval': bad,
    'update → stalled': bad,
    'update → succeeded': conflict,
    'update → failed': 'failed',
    'update → cancelled': 'cancelled',
    'update fields only': 'running',
    'empty update': 'running',
    activity: null,
    request_approval: 'awaiting_approval',
    'decide approve': conflict,
    'decide reject': conflict,
    cancel: 'cancelled',
    stall: conflict,
  },
  running: {
    'update → queued': conflict,
    'update → running': null,
    'update → awaiting_approval': bad,
    'update → stalled': bad,
    'update → succeeded': 'succeeded',
    'update → failed': 'failed',
    'update → cancelled': 'cancelled',
    'update fields only': 'running',
    'empty update': null,
    activity: null,
    request_approval: 'awaiting_approval',
    'decide approve': conflict,
    'decide reject': conflict,
    cancel: 'cancelled',
    stall: 'stalled',
  },
  awaiting_approval: {
    'update → queued': conflict,
    'update → running': conflict,
    'update → awaiting_approval': null,
    'update → stalled': bad,
    'update → succeeded': conflict,
    'update → failed': 'failed',
    'update → cancelled': 'cancelled',
    'update fields only': 'awaiting_approval',
    'empty update': null,
    activity: null,
    request_approval: conflict,
    'decide approve': 'running',
    'decide reject': 'failed',
    cancel: 'cancelled',
    stall: conflict,
  },
  stalled: {
    'update → queued': conflict,
    'update → running': 'running',
    'update → awaiting_approval': bad,
    'update → stalled': bad,
    'update → succeeded': 'succeeded',
    'update → failed': 'failed',
    'update → cancelled': 'cancelled',
    'update fields only': 'running',
    'empty update': 'running',
    activity: 'running',
    request_approval: 'awaiting_approval',
    'decide approve': conflict,
    'decide reject': conflict,
    cancel: 'cancelled',
    stall: conflict,
  },
  succeeded: terminal,
  failed: terminal,
  cancelled: terminal,
};

describe('reduce: every status × every change', () => {
  const rows = TASK_STATUSES.flatMap((status) =>
    (Object.keys(CHANGES) as ChangeName[]).map((name) => ({ status, name, expected: TABLE[status][name] })),
  );

  it('covers all 7 statuses and 15 changes', () => {
    expect(rows).toHaveLength(7 * 15);
  });

  it.each(rows)('$status + $name', ({ status, name, expected }) => {
    const task = taskIn(status);
    expect(outcome(task, CHANGES[name])).toEqual(expected);
    // A successful change bumps the version by exactly one and stamps updatedAt.
    if (typeof expected === 'string') {
      const next = reduce(task, CHANGES[name], T1) as Task;
      expect(next.version).toBe(6);
      expect(next.updatedAt).toBe(iso(T1));
      expect(next.finishedAt).toBe(['succeeded', 'failed', 'cancelled'].includes(expected) ? iso(T1) : null);
      expect(task.version).toBe(5); // the input is never mutated
    }
  });
});

describe('reduce: create', () => {
  it('creates a queued task at version 1 with defaults', () => {
    const t = reduce(null, { type: 'create', id: 'a', owner: 'alice' }, T0) as Task;
    expect(t).toMatchObject({ id: 'a', owner: 'alice', status: 'queued', version: 1, stallTimeoutMs: 60_000 });
    expect(t).toMatchObject({ title: null, meta: {}, createdAt: iso(T0), updatedAt: iso(T0), startedAt: null });
  });

  it('refuses a create over an existing task (conflict) and a change to a missing one (not_found)', () => {
    expect(outcome(taskIn('queued'), { type: 'create', id: 'build-42', owner: 'alice' })).toEqual(conflict);
    expect(() => reduce(null, { type: 'cancel' }, T0)).toThrow(expect.objectContaining({ code: 'not_found' }));
  });

  it.each([
    ['bad id', { id: 'a b' }],
    ['empty id', { id: '' }],
    ['long id', { id: 'x'.repeat(129) }],
    ['bad owner', { owner: 'a/b' }],
    ['long title', { title: 'x'.repeat(LIMITS.titleChars + 1) }],
    ['meta not an object', { meta: [] as unknown as Record<string, never> }],
    ['huge meta', { meta: { big: 'x'.repeat(LIMITS.jsonBytes) } }],
    ['negative stallTimeoutMs', { stallTimeoutMs: -1 }],
    ['fractional stallTimeoutMs', { stallTimeoutMs: 1.5 }],
    ['stallTimeoutMs over max', { stallTimeoutMs: LIMITS.maxStallTimeoutMs + 1 }],
  ])('refuses %s with bad_request', (_name, fields) => {
    const change = { type: 'create', id: 'a', owner: 'alice', ...fields } as TaskChange;
    expect(() => reduce(null, change, T0)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });

  it('accepts fields exactly at their limits', () => {
    const change: TaskChange = {
      type: 'create',
      id: 'x'.repeat(128),
      owner: 'a.b-c_d@e',
      title: 'x'.repeat(LIMITS.titleChars),
      stallTimeoutMs: 0,
    };
    expect(reduce(null, change, T0)?.stallTimeoutMs).toBe(0);
  });
});

describe('reduce: update fields', () => {
  const running = taskIn('running');

  it.each([
    ['progress below 0', { progress: -1 }],
    ['progress above 100', { progress: 100.5 }],
    ['progress NaN', { progress: Number.NaN }],
    ['progress not a number', { progress: '5' as unknown as number }],
    ['long stage', { stage: 'x'.repeat(LIMITS.stageChars + 1) }],
    ['long message', { message: 'x'.repeat(LIMITS.messageChars + 1) }],
    ['stage not a string', { stage: 5 as unknown as string }],
    ['huge result', { result: 'x'.repeat(LIMITS.jsonBytes) }],
    ['long error string', { error: 'x'.repeat(LIMITS.errorMessageChars + 1) }],
    ['error without message', { error: { code: 'x' } as unknown as string }],
    ['meta that grows too big', { meta: { big: 'x'.repeat(LIMITS.jsonBytes) } }],
  ])('refuses %s with bad_request', (_name, fields) => {
    expect(outcome(running, { type: 'update', ...fields })).toEqual(bad);
  });

  it('refuses meta that grows over the limit by merging, from a snapshot it made or one read back', () => {
    const half = 'x'.repeat(LIMITS.jsonBytes / 2);
    const first = reduce(running, { type: 'update', meta: { a: half } }, T1) as Task;
    // The same snapshot as an engine would read it back (no reduce-made objects in it).
    for (const t of [first, JSON.parse(JSON.stringify(first)) as Task]) {
      expect(outcome(t, { type: 'update', meta: { b: half } })).toEqual(bad);
      expect((reduce(t, { type: 'update', meta: { a: null, b: half } }, T1) as Task).meta).toEqual({ b: half });
      expect((reduce(t, { type: 'update', meta: { c: 1 } }, T1) as Task).meta).toEqual({ a: half, c: 1 });
    }
  });

  it('merges meta, deleting keys set to null', () => {
    const t = taskIn('running', { meta: { keep: 1, drop: 2, change: 'a' } });
    const next = reduce(t, { type: 'update', meta: { drop: null, change: 'b', add: [1] } }, T1) as Task;
    expect(next.meta).toEqual({ keep: 1, change: 'b', add: [1] });
    expect(t.meta).toEqual({ keep: 1, drop: 2, change: 'a' });
  });

  it('sets progress 100 on success and a default error on failure', () => {
    expect(reduce(running, { type: 'update', status: 'succeeded', progress: 40 }, T1)?.progress).toBe(100);
    expect(reduce(running, { type: 'update', status: 'failed' }, T1)?.error).toEqual({ message: 'task failed' });
    expect(reduce(running, { type: 'update', status: 'failed', error: 'boom' }, T1)?.error).toEqual({
      message: 'boom',
    });
    expect(reduce(running, { type: 'update', error: { message: 'm', code: 'E1' } }, T1)?.error).toEqual({
      message: 'm',
      code: 'E1',
    });
  });

  it('stamps startedAt the first time a task runs and keeps it afterwards', () => {
    const queued = taskIn('queued');
    const started = reduce(queued, { type: 'update', progress: 1 }, T1) as Task;
    expect(started.startedAt).toBe(iso(T1));
    const stalled = reduce(started, { type: 'stall' }, T1 + 1000) as Task;
    const again = reduce(stalled, { type: 'activity' }, T1 + 2000) as Task;
    expect(again.startedAt).toBe(iso(T1));
    expect(again.version).toBe(started.version + 2);
  });

  it('treats an unchanged value as no change', () => {
    const t = taskIn('running', { progress: 10, stage: 's', message: 'm' });
    expect(reduce(t, { type: 'update', progress: 10, stage: 's', message: 'm' }, T1)).toBeNull();
  });
});

describe('reduce: approvals', () => {
  it('records the request, then the decision with who and when', () => {
    const asked = reduce(
      taskIn('running'),
      { type: 'request_approval', prompt: 'Ok?', options: ['a', 'b'] },
      T1,
    ) as Task;
    expect(asked.approval).toEqual({
      prompt: 'Ok?',
      options: ['a', 'b'],
      requestedAt: iso(T1),
      decision: null,
      comment: null,
      decidedBy: null,
      decidedAt: null,
    });
    const decided = reduce(asked, { type: 'decide', decision: 'reject', comment: 'no', by: 'bob' }, T1 + 1) as Task;
    expect(decided).toMatchObject({ status: 'failed', error: { code: 'rejected', message: 'rejected: no' } });
    expect(decided.approval).toMatchObject({
      decision: 'reject',
      comment: 'no',
      decidedBy: 'bob',
      decidedAt: iso(T1 + 1),
    });
  });

  it.each([
    ['empty prompt', { prompt: '' }],
    ['long prompt', { prompt: 'x'.repeat(LIMITS.approvalPromptChars + 1) }],
    ['too many options', { prompt: 'p', options: Array.from({ length: LIMITS.approvalOptions + 1 }, () => 'o') }],
    ['long option', { prompt: 'p', options: ['x'.repeat(LIMITS.approvalOptionChars + 1)] }],
    ['empty option', { prompt: 'p', options: [''] }],
  ])('refuses %s with bad_request', (_name, fields) => {
    expect(outcome(taskIn('running'), { type: 'request_approval', ...fields })).toEqual(bad);
  });

  it('refuses a long comment and an unknown decision with bad_request', () => {
    const waiting = taskIn('awaiting_approval');
    const long = 'x'.repeat(LIMITS.commentChars + 1);
    expect(outcome(waiting, { type: 'decide', decision: 'approve', comment: long, by: 'a' })).toEqual(bad);
    expect(outcome(waiting, { type: 'decide', decision: 'maybe' as 'approve', by: 'a' })).toEqual(bad);
  });
});
