/**
 * One simulated worker: creates its task, then reports through the public HTTP API
 * (the backend client, with the API key) until the scenario's outcome. Returns when
 * the task is done, when the worker "dies", or at once when the demo stops.
 */
import type { Task } from '@taskwire/protocol';
import { TaskwireApiError, type TaskwireBackend } from '@taskwire/client/backend';
import { between, pick, type Clock } from './clock.js';
import type { Scenario, Stage } from './scenarios.js';

export interface WorkerContext {
  tw: TaskwireBackend;
  clock: Clock;
  id: string;
  /** The stall timeout of a task whose worker dies (10 s at speed 1). */
  stallTimeoutMs: number;
  /** How long an approval waits for a decision before the task fails (10 min at speed 1). */
  approvalTimeoutMs: number;
  /** The task exists (for counting). */
  created?(task: Task): void;
  /** An approval started waiting (true) or stopped (false). */
  awaiting?(waiting: boolean): void;
}

export type WorkerEnd = Task['status'] | 'died' | 'stopped';

export async function runWorker(s: Scenario, ctx: WorkerContext): Promise<WorkerEnd> {
  const { tw, clock, id } = ctx;
  const task = await tw.createTask({
    id,
    owner: s.owner,
    title: s.title,
    meta: { demo: true, scenario: s.slug },
    ...(s.outcome === 'die' ? { stallTimeoutMs: ctx.stallTimeoutMs } : {}),
  });
  ctx.created?.(task);
  // Queued for a moment, as if waiting for a free worker.
  if (!(await clock.sleep(between(600, 1800)))) return 'stopped';
  await tw.log(id, `worker ${between(1, 9)} picked up ${id}`);

  const steps = Math.max(4, Math.round(s.durationMs / 1_200));
  const tickMs = s.durationMs / steps;
  let current: Stage | undefined;
  let triggered = false;
  for (let i = 1; i <= steps; i++) {
    const done = i / steps;
    if (!triggered && s.at !== undefined && done >= s.at) {
      triggered = true;
      const end = await outcome(s, ctx);
      if (end !== 'continue') return end;
    }
    const index = Math.min(s.stages.length - 1, Math.floor(((i - 1) / steps) * s.stages.length));
    const stage = s.stages[index];
    if (!stage) break;
    const first = stage !== current;
    current = stage;
    // Progress within the stage, for its "k of n" message.
    const stageStart = index / s.stages.length;
    const within = Math.min(1, Math.max(0, (done - stageStart) * s.stages.length));
    const k = Math.max(1, Math.round(within * stage.count));
    const pct = s.indeterminateStart === true && index === 0 ? null : Math.min(99, Math.round(done * 1000) / 10);
    await tw.progress(id, pct, {
      stage: stage.name,
      message: `${k.toLocaleString('en')} of ${stage.count.toLocaleString('en')} ${stage.unit}`,
    });
    if (first || i % 3 === 0)
      await tw.log(id, `[${stage.name}] ${first ? (stage.logs[0] ?? stage.name) : pick(stage.logs)}`);
    if (!(await clock.sleep(tickMs * (0.7 + Math.random() * 0.6)))) return 'stopped';
  }
  const finished = await tw.complete(id, { scenario: s.slug, durationMs: s.durationMs });
  return finished.status;
}

/** The scenario's twist at `at`: 'continue' when the work goes on (an approval said yes). */
async function outcome(s: Scenario, ctx: WorkerContext): Promise<WorkerEnd | 'continue'> {
  const { tw, clock, id } = ctx;
  switch (s.outcome) {
    case 'succeed':
      return 'continue';
    case 'fail': {
      const error = s.error ?? { message: 'something went wrong', code: 'demo_failure' };
      await tw.log(id, `error: ${error.message}`);
      return (await tw.fail(id, error)).status;
    }
    case 'cancel':
      await tw.log(id, 'the user closed the export dialog: cancelling');
      return (await tw.cancel(id)).status;
    case 'die':
      // The worker process is gone: no more reports. The server marks the task stalled.
      return 'died';
    case 'approval':
      return approval(s, ctx, tw, clock, id);
  }
}

async function approval(
  s: Scenario,
  ctx: WorkerContext,
  tw: TaskwireBackend,
  clock: Clock,
  id: string,
): Promise<WorkerEnd | 'continue'> {
  await tw.askApproval(id, s.prompt ?? 'Go ahead?', ['approve', 'reject']);
  ctx.awaiting?.(true);
  let decided;
  try {
    decided = await tw.waitForDecision(id, { signal: clock.signal, timeoutMs: ctx.approvalTimeoutMs });
  } catch (err) {
    if (clock.signal.aborted) return 'stopped';
    if (err instanceof TaskwireApiError && err.code === 'timeout') {
      return (await tw.fail(id, { message: 'no decision in time', code: 'approval_timeout' })).status;
    }
    throw err;
  } finally {
    ctx.awaiting?.(false);
  }
  const by = decided.decidedBy ?? 'someone';
  const comment = decided.comment ? `: ${decided.comment}` : '';
  if (decided.decision === 'reject') {
    await tw.log(id, `rejected by ${by}${comment}`);
    return (await tw.fail(id, { message: `rejected by ${by}${comment}`, code: 'rejected' })).status;
  }
  await tw.log(id, `approved by ${by}${comment}`);
  return 'continue';
}
